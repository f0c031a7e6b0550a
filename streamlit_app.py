"""genre-lab: classify music into 10 genres with a CNN, an LSTM and a feature baseline.

    streamlit run streamlit_app.py

The entrypoint only sets the page up and routes; each page is a short script in ``pages/``, and the
list of pages is in ``pages/_common.py`` (a page opened without this file uses it to route itself here).
"""

import streamlit as st

from pages._common import app_navigation

st.set_page_config(page_title="genre-lab: music genre classifier", page_icon="🎵", layout="wide")
app_navigation().run()
