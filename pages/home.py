"""Home: what the app does, the genres, the models and their measured accuracy, and the way in."""

import streamlit as st

from core.serve import artifacts, results
from core.serve.config import GENRES
from core.serve.catalog import MODEL_NAMES, MODEL_TITLES, TITLES
from core.app.style import column_title
from core.app.training import split_description
from pages._common import accuracy_dataframe, artifacts_dir, ensure_app_navigation, feature_config, missing, model_lines

ensure_app_navigation()

st.title("🎵 genre-lab")
st.markdown(
    "#### Play or record a piece of music, and four models trained on the GTZAN collection say which of "
    "ten genres it sounds like, with one combined verdict.\n"
    "#### The app shows what the models heard, how sure each one is, and how well they really do on "
    "music they have never heard."
)

st.subheader("The ten genres")
st.markdown(" · ".join(f"**{genre}**" for genre in GENRES))

st.subheader("The models")
lines = model_lines(feature_config(), artifacts.training(artifacts_dir()))
for name in MODEL_NAMES:
    st.markdown(f"- **{MODEL_TITLES[name]}**: {lines[name]}")

st.subheader("How well they do on unseen music")
scores = artifacts.evaluation(artifacts_dir())
if scores:
    test = scores["test"]
    st.caption(
        f"Share of whole clips classified correctly on {split_description(scores['split'])}: {test['clips']} "
        "GTZAN clips that no choice was made on: every choice was made on the validation list. "
        f"Chance is {1 / len(GENRES):.0%}."
    )
    columns = st.columns(len(test["models"]))
    for column, (name, model) in zip(columns, test["models"].items()):
        column.metric(column_title(name), f"{model['clip_accuracy']:.1%}",
                      help=f"{TITLES.get(name, name)}: macro F1 {model['macro_f1']:.3f}; "
                           f"single windows {model['window_accuracy']:.1%}")
    if len(results.view_clips(artifacts_dir())) > 1:
        st.caption("And beyond GTZAN's test images (clip accuracy, %): MP3 files, the same music recorded through a "
                   "simulated speaker and microphone, and real recordings from outside GTZAN, each predicted by "
                   "models that never heard its artist (grouped cross-validation): the figure closest to your music.")
        accuracy_dataframe()
else:
    missing("The measured test accuracy", artifacts.EVALUATION_FILE)

st.subheader("Where to go")
links = (
    ("pages/classify.py", "Classify a clip", "🎧",
     "an example, your own file or the microphone; every model side by side and one verdict."),
    ("pages/how-it-works.py", "How it works", "💡", "from waveform to genre, step by step, for the classroom."),
    ("pages/training.py", "Training", "📈", "learning curves, architectures, settings, confusion matrices."),
    ("pages/comparison.py", "Comparison", "⚖️",
     "against published results, and why some published numbers are too good."),
    ("pages/experiments.py", "Experiments", "🧪",
     "the original report's future work (GRU, CRNN, augmentation, transfer, ensembles), measured."),
)
for page, label, icon, text in links:
    left, right = st.columns([1, 3], vertical_alignment="center")
    left.page_link(page, label=label, icon=icon)
    right.markdown(text)

st.caption("For teaching and demonstration only. GTZAN is small, old and has known faults (see Comparison); "
           "the models know only these ten genres and always answer one of them.")
