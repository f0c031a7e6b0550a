"""Experiments: the original report's future work, each answered with a measurement under one protocol."""

import streamlit as st

from core.serve import artifacts
from core.app.experiments import experiments_figure, experiments_table, future_work_sentences
from pages._common import artifacts_dir, chart, ensure_app_navigation, missing

ensure_app_navigation()

st.title("🧪 Experiments")
st.markdown("The course report this app grew from ended with future work: GRU or bidirectional LSTMs, a CNN-RNN "
            "hybrid (CRNN), data augmentation, transfer learning and ensembles. Here each one is trained and "
            "measured under the same honest protocol, next to the models the app serves.")
document = artifacts.experiments(artifacts_dir())
if not document or not document.get("variants"):
    missing("The experiments table", artifacts.EXPERIMENTS_FILE)
    st.stop()

table = experiments_table(document)
measured, planned = len(table), len(document.get("planned", []))
if planned > measured:
    st.info(f"{measured} of the {planned} planned variants are measured so far; `python -m core.experiments` "
            "resumes the rest.", icon="ℹ️")

st.header("What each future-work item buys on an honest split")
for sentence in future_work_sentences(document):
    st.markdown(f"- {sentence}")

st.header("Every variant")
st.dataframe(
    table, hide_index=True,
    column_config={
        **{column: st.column_config.NumberColumn(format="%.1f") for column in table.columns if column.endswith("(%)")},
        "± std (points)": st.column_config.NumberColumn(format="%.1f", help="Standard deviation over the seeds"),
        "ms per clip": st.column_config.NumberColumn(format="%.1f", help="The model alone on a 30 s clip (LiteRT)"),
        "training (s)": st.column_config.NumberColumn(format="%.0f", help="Per seed, on 2 cores"),
        "parameters": st.column_config.NumberColumn(format="%d"),
        "what it is": st.column_config.TextColumn(width="large"),
    },
)
st.caption("Click a column header to sort. " + document["protocol"] + " Measured with " + document["measured_with"]
           + ". Written by `" + document["written_by"] + "`. These variants learned from GTZAN alone; their "
           "real-world column was measured on an earlier, smaller set of real recordings, before the product "
           "learned from real music (the cross-validated real-world figures of the shipped models are on Home, "
           "Training and Comparison). `musicnn_frozen` and `shipped_verdict` are the models shipped when this "
           "file was written.")

st.header("Accuracy against cost")
chart(experiments_figure(table), key="experiments",
      alt="Validation accuracy (mean and spread over seeds) and test accuracy of every variant against its time per clip")
