"""Training: learning curves, architecture, settings, and the test-list confusion matrix of every model."""

import streamlit as st

from core.serve import artifacts, results
from core.app.training import (
    architecture_table, confusion_figure, describe_head_choice, fold_choices_table, head_trials_table, head_variants_table,
    history_figure, per_genre_table, settings_table, split_name,
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
    chosen_on = ("GTZAN's validation list and the real recordings' out-of-fold predictions"
                 if "real_share" in verdict else "the validation list")
    st.markdown("The verdict averages every model's genre probabilities with these weights, the best of "
                f"{verdict['weightings_tried']} weightings on {chosen_on}: " + ", ".join(
                    f"**{MODEL_TITLES.get(name, name)}** {weight:.0%}" for name, weight in verdict["weights"].items())
                + ". Validation accuracy: " + ", ".join(f"{view} {value:.1%}" for view, value in verdict["valid"].items())
                + (f"; real recordings out of fold {verdict['real_oof']:.1%} ({verdict['real_clips']} clips). "
                   f"Score: {1 - verdict['real_share']:.0%} the mean of the validation views, "
                   f"{verdict['real_share']:.0%} the real recordings." if "real_share" in verdict else "."))

real = trained.get("realworld")
cv = (scores or {}).get("realworld_cv")
if real and cv:
    st.subheader("Learning real music: grouped cross-validation")
    st.markdown(
        f"A user's music is never GTZAN. The models also learn from {real['real_clips']} labelled recordings from "
        "outside GTZAN, split into five folds so that an artist or a collection never spans two. For each fold, "
        "the transfer head, the CNN, the LSTM and the verdict's weights learned from GTZAN and the other four "
        "folds only; the fold was then predicted through the app's own path. Those out-of-fold answers are the "
        "product's real-world figure (Home and Comparison). The shipped models made the same choices on all five "
        "folds and were refitted on GTZAN plus every real clip: "
        f"the transfer head reads {describe_head_choice(real['head_choice'])}.")
    st.dataframe(fold_choices_table(cv["fold_choices"]), hide_index=True,   # the long texts in full on hover
                 column_config={"head, inner CV (%)": st.column_config.NumberColumn(format="%.1f"),
                                "transfer head": st.column_config.TextColumn(width="medium"),
                                "verdict weights": st.column_config.TextColumn(width="small")})
    st.caption("Each fold's choices, made without its clips. The head's settings were chosen by leave-one-fold-out "
               "inside the four training folds; the CNN and the LSTM were fine-tuned from their GTZAN-only networks, "
               "keeping the epoch GTZAN's validation list preferred.")
    if cv.get("head_variants"):
        st.dataframe(head_variants_table(cv["head_variants"]), hide_index=True,
                     column_config={"real world, nested CV (%)": st.column_config.NumberColumn(format="%.1f")})
        st.caption("What each idea is worth on real music: every family of transfer heads, each with its settings "
                   "chosen inside the training folds (nested grouped cross-validation on the tagger's outputs, the "
                   "clean clips). Differences of a few clips are noise (one clip is 0.9 points).")

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
