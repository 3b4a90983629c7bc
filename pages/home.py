"""Home: what genlab trains and regularizes, with the objectives it actually implements."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages.presentation import presenting
from pages.shared import use_app_navigation

use_app_navigation()

PAGES = Path(__file__).resolve().parent

st.title("genlab — train GANs and VAEs live")
st.markdown(
    "Pick a model and a data set, press **Start**, and watch a generative model learn. Move the "
    "regularization sliders while it trains and see what each one does to the losses, the gradients, "
    "the weight norms and the samples."
)

st.page_link("pages/train.py", label="Open the training studio", icon=":material/model_training:")
if (PAGES / "latent.py").is_file():
    st.page_link("pages/latent.py", label="Explore a model's latent space", icon=":material/explore:")
if (PAGES / "runs.py").is_file():
    st.page_link("pages/runs.py", label="Browse saved runs", icon=":material/folder_open:")
st.page_link("pages/dirac.py", label="Dirac-GAN lab: see why R1 makes a GAN converge and the plain game circles",
             icon=":material/insights:")
st.page_link("pages/draw.py", label="Draw your own 2D data and train a GAN on it", icon=":material/draw:")

# on a projector the type is larger: one column, so the formulas keep their width (two clipped them)
left, right = (st.container(), st.container()) if presenting() else st.columns(2)
with left:
    st.subheader("GAN: a generator against a discriminator")
    st.markdown(
        "A generator $G$ maps noise $z \\sim \\mathcal N(0, I)$ to samples; a discriminator $D$ outputs the "
        "probability $D(x) = \\sigma(\\text{logit})$ that $x$ is real. They play the minimax game "
        "(Goodfellow et al., 2014):"
    )
    st.latex(r"\min_G \max_D \; V(D,G), \qquad x \sim p_\text{data},\; z \sim p(z)")
    st.latex(r"V(D,G) = \mathbb{E}_{x}[\log D(x)] + \mathbb{E}_{z}[\log(1 - D(G(z)))]")
    st.markdown(
        "$D$ minimizes $-V$. Early on $D$ rejects every sample and $\\log(1-D(G(z)))$ gives $G$ almost no "
        "gradient, so $G$ usually minimizes the **non-saturating** loss instead:"
    )
    st.latex(r"\mathcal L_G = -\,\mathbb{E}_{z}[\log D(G(z))]")
    st.markdown(
        "genlab also offers the Wasserstein loss (critic maximizes $\\mathbb E[D(x)] - \\mathbb E[D(G(z))]$), "
        "hinge and least-squares losses."
    )

with right:
    st.subheader("VAE: an encoder, a decoder and a prior")
    st.markdown(
        "An encoder gives $q(z\\mid x) = \\mathcal N(\\mu(x), \\operatorname{diag}\\sigma^2(x))$, a decoder "
        "gives $p(x\\mid z)$, and $z = \\mu + \\sigma \\odot \\varepsilon$ with $\\varepsilon\\sim\\mathcal N(0,I)$ "
        "keeps sampling differentiable. Training minimizes the negative ELBO, with weight $\\beta$ on the KL term:"
    )
    st.latex(r"\mathcal L(x) = \mathbb{E}_{q(z\mid x)}[-\log p(x\mid z)]"
             r" + \beta\,\mathrm{KL}\big(q(z\mid x)\,\|\,\mathcal N(0, I)\big)")
    st.latex(r"\mathrm{KL} = \tfrac12 \sum_{j} \left(\mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1\right)")
    st.markdown(
        "The KL is between the *encoder's* Gaussian and the prior; it never involves the decoder's output. "
        "$\\beta = 1$ is the ELBO; $\\beta > 1$ (β-VAE) pushes towards disentangled, blurrier codes. "
        "With a capacity $C$ the term becomes $\\beta\\,|\\mathrm{KL} - C|$ (Burgess et al., 2018), and a "
        "KL warm-up ramps $\\beta$ up from 0."
    )

st.subheader("Norm regularization: keeping training stable")
st.markdown("Each of these is a slider on the Train page (spectral norm needs a Reset: it changes the model).")
reg = (st.container(), st.container()) if presenting() else st.columns(2)
with reg[0]:
    st.markdown("**Weight-norm penalties** add to a network's loss")
    st.latex(r"\lambda_1 \sum_{W} \sum_{ij} |W_{ij}| \qquad \lambda_2 \sum_{W} \|W\|_F^2")
    st.markdown("**Spectral normalization** divides each layer's weight by its largest singular value, "
                "$W \\leftarrow W / \\sigma_{\\max}(W)$. A linear layer then has operator norm 1, so an MLP "
                "$D$ with 1-Lipschitz activations is 1-Lipschitz. A convolution's $k \\times k$ kernel is first "
                "reshaped to a matrix (out, in·k·k), and only that matrix gets norm 1: the convolution itself, "
                "with stride $s$, can stretch its input by up to $\\lceil k/s \\rceil$ (2 for the 4×4 stride-2 "
                "layers here; about 1.7–1.9 measured), so a conv $D$'s Lipschitz constant is bounded by the "
                "product of those factors, not by 1. genlab records both norms for every layer.")
    st.markdown("**Weight clipping** (original WGAN): $W_{ij} \\leftarrow \\operatorname{clip}(W_{ij}, -c, c)$ "
                "after each $D$ update.")
with reg[1]:
    st.markdown("**Gradient penalties** on the discriminator")
    st.latex(r"\text{WGAN-GP: } \lambda\, \mathbb{E}_{\hat x}\big[(\|\nabla_{\hat x} D(\hat x)\|_2 - 1)^2\big]")
    st.markdown("with $\\hat x = \\epsilon x + (1-\\epsilon) G(z)$, one $\\epsilon \\sim U[0,1]$ per sample;")
    st.latex(r"\text{R1: } \tfrac{\gamma}{2}\, \mathbb{E}_{x\sim p_\text{data}}\big[\|\nabla_x D(x)\|_2^2\big]")
    st.latex(r"\text{R2: } \tfrac{\gamma}{2}\, \mathbb{E}_{z}\big[\|\nabla_x D(G(z))\|_2^2\big]")
    st.markdown("**Gradient clipping** rescales a network's whole gradient when it is too long: "
                "$g \\leftarrow g\\cdot\\min(1, c/\\|g\\|)$.")

st.caption("Every loss and penalty above is checked in genlab's tests against a closed form or an independent "
           "computation.")
