"""Theory made visible: small games whose dynamics the pages draw, built from genlab's own losses.

- dirac.py     the Dirac-GAN (Mescheder et al. 2018): the games, their vector field by autograd
- dynamics.py  simultaneous / alternating gradient descent on it, and the linearization at (0, 0)
- cache.py     the lab's runs, computed a slider's worth at a time and kept by setting
"""
