"""genre-lab: classify music into 10 genres with a CNN, an LSTM and a feature baseline.

    streamlit run streamlit_app.py

The entrypoint only sets the page up and routes; each page is a short script in ``pages/``.
"""

import streamlit as st

st.set_page_config(page_title="genre-lab: music genre classifier", page_icon="🎵", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/classify.py", title="Classify a clip", icon="🎧", url_path="classify"),
    st.Page("pages/how_it_works.py", title="How it works", icon="💡", url_path="how-it-works"),
    st.Page("pages/training.py", title="Training", icon="📈", url_path="training"),
    st.Page("pages/comparison.py", title="Comparison", icon="⚖️", url_path="comparison"),
]

st.navigation(PAGES).run()
