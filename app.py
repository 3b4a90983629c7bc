"""genlab: train small GANs and VAEs live in the browser. Run with `streamlit run app.py`.

The app's frame is pages/app_frame.py. It runs only when Streamlit runs this script: a worker process
(genlab.live.pool, spawned) first imports its parent's main module, which under Streamlit is this
script, as "__mp_main__" — the guard multiprocessing asks for, so that a worker does not start the app.
"""
if __name__ == "__main__":
    from pages.app_frame import main

    main()
