"""What the workers' fork server imports once, so that each worker forked from it starts with it loaded.

Imported by multiprocessing's fork server (genlab.live.pool), never by the server itself. Loading
torch and the trainers costs a fresh interpreter ≈ 2-3 s of CPU and ≈ 360 MiB of private memory; a
worker forked from a process that has done it shares those pages with every other worker until it
writes to them. gc.freeze() keeps Python's cyclic collector in the workers from writing to (and so
copying) every page of the objects loaded here. Nothing here may touch CUDA: a CUDA context does not
survive a fork, and the workers pick their device after it.
"""
import gc
import os

from genlab.live.worker import WORKER_NICENESS, warm_up

os.nice(WORKER_NICENESS)  # the fork server imports torch at a worker's priority; its workers inherit it
warm_up()
gc.freeze()
