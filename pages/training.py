"""Training: learning curves, architecture, settings, and the test-list confusion matrix of every model."""

import streamlit as st

from core.serve import artifacts, results
from core.app.figures import (
    architecture_table, confusion_figure, head_trials_table, history_figure, per_genre_table, settings_table, split_name,
)
from core.serve.catalog import MODEL_TITLES
from pages._common import artifacts_dir, chart, ensure_app_navigation, missing

ensure_app_navigation()

TRANSFER_INTRO = ("The pretrained **musicnn** tagger (trained on the Million Song Dataset to name 50 tags, seven of "
                  "them genres) stays frozen; only a small head from its tags (and, if validation prefers, its "
                  "penultimate layer) to the ten genres is trained here, pulled towards the tags that name a genre "
                  "as strongly as validation prefers (the table below has every trial). "
                  "Its training clips are the GTZAN clips with audio, as they are and through simulated speakers, "
                  "rooms and microphones, and the clips that exist only as spectrogram images, converted to "
                  "musicnn's input and degraded in the same spirit. Fine-tuning the network's last layers "
                  "instead is measured on the Experiments page (`musicnn_finetuned`).")

st.title("📈 Training")
trained = artifacts.training(artifacts_dir())
scores = artifacts.evaluation(artifacts_dir())
if not trained:
    missing("What training measured", artifacts.TRAINING_FILE)
    st.stop()

data = trained.get("data", {})
st.markdown(
    f"Trained on the **{split_name(trained['split'])}** split from the GTZAN {trained.get('source', 'data')}: "
    f"{data.get('train_clips', '?')} training clips; every choice (the epoch kept, the settings) was made on "
    f"{data.get('valid_clips', '?')} validation clips. "
    + (f"The test list ({scores['test']['clips']} clips) only measures: the confusion matrices below."
       if scores else "")
)
if not scores:
    missing("The confusion matrices and per-genre scores on the test list", artifacts.EVALUATION_FILE)

verdict = trained.get("verdict")
if verdict:
    st.subheader("The combined verdict")
    st.markdown("The verdict averages every model's genre probabilities with these weights, the best of "
                f"{verdict['weightings_tried']} weightings on the validation list: " + ", ".join(
                    f"**{MODEL_TITLES.get(name, name)}** {weight:.0%}" for name, weight in verdict["weights"].items())
                + ". Validation accuracy: " + ", ".join(f"{view} {value:.1%}" for view, value in verdict["valid"].items())
                + ".")

models = results.in_catalogue_order(trained["models"])
for tab, (name, model) in zip(st.tabs([MODEL_TITLES.get(name, name) for name, _ in models]), models):
    with tab:
        if name == "musicnn":
            st.markdown(TRANSFER_INTRO)
            st.subheader("Chosen on the validation list")
            st.dataframe(head_trials_table(model["head_trials"]), hide_index=True, height=320)
            st.caption(f"Kept: the head trained on {model['training_mix']} reading {model['settings']['features']}, "
                       f"then refitted on the training and validation lists; "
                       f"{model['settings']['patches_per_unit']} patches of 3 s per 30 s at serving time. "
                       f"Image-derived inputs calibrated on {model['calibration']['clips']} training clips with audio. "
                       + ("Every 30 s of input is brought to the training clips' median level first, so a quiet "
                          "recording is heard as a loud one. " if model["settings"].get("level_db") is not None else "")
                       + f"Trained in {model['training_seconds']:,.0f} s.")
            st.caption(results.TRANSFER_CREDIT)
        else:
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
