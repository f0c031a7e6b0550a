"""Training: learning curves, architecture, settings, and the test-list confusion matrix of every model."""

import streamlit as st

from core import report
from core.figures import (
    architecture_table, confusion_figure, history_figure, per_genre_table, settings_table, split_name,
)
from core.catalog import MODEL_TITLES
from pages._common import artifacts_dir, chart, ensure_app_navigation, missing

ensure_app_navigation()

st.title("📈 Training")
trained = report.training(artifacts_dir())
scores = report.evaluation(artifacts_dir())
if not trained:
    missing("What training measured", "training.json")
    st.stop()

data = trained.get("data", {})
st.markdown(
    f"Trained on the **{split_name(trained['split'])}** split from the GTZAN {trained.get('source', 'data')}: "
    f"{data.get('train_clips', '?')} training clips; every choice (the epoch kept, the settings) was made on "
    f"{data.get('valid_clips', '?')} validation clips. "
    + (f"The test list ({scores['test']['clips']} clips) was used once, for the confusion matrices below."
       if scores else "")
)
if not scores:
    missing("The confusion matrices and per-genre scores on the test list", "evaluation.json")

for tab, (name, model) in zip(st.tabs([MODEL_TITLES.get(name, name) for name in trained["models"]]),
                              trained["models"].items()):
    with tab:
        st.subheader("Learning curves")
        chart(history_figure(model["history"], model.get("best_epoch")), key=f"history-{name}",
              alt=f"Loss and accuracy per epoch of the {MODEL_TITLES.get(name, name)}")
        if model.get("augmentation"):
            st.caption("Training figures are measured on augmented, mixed-up windows, so they can sit below the "
                       "validation figures. The kept epoch is the one with the best validation clip accuracy.")
        st.subheader("Architecture")
        st.table(architecture_table(model["architecture"]).style.format({"parameters": "{:,}"}), hide_index=True)
        st.caption(f"{model['parameters']:,} parameters; exported model file {model['size_bytes'] / 1024:,.0f} KB; "
                   f"trained in {model['training_seconds']:,.0f} s.")
        st.subheader("Settings")
        st.table(settings_table(model), hide_index=True)
        if scores and name in scores["test"]["models"]:
            tested = scores["test"]["models"][name]
            st.subheader(f"On the test list: {tested['clip_accuracy']:.1%} of clips correct, "
                         f"macro F1 {tested['macro_f1']:.3f}")
            matrix, table = st.columns(2)
            with matrix:
                chart(confusion_figure(tested["confusion_matrix"]), key=f"confusion-{name}",
                      alt=f"Confusion matrix of the {MODEL_TITLES.get(name, name)} on the test list")
            with table:
                st.dataframe(per_genre_table(tested["per_genre"]), hide_index=True, column_config={
                    column: st.column_config.NumberColumn(format="%.2f") for column in ("precision", "recall", "F1")})
                st.caption("Precision: of the clips the model called this genre, the share that were. Recall: of "
                           "the clips of this genre, the share it found. F1 combines the two.")
