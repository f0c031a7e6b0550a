"""Comparison: published results with their protocols, the honest versus the leaky split, trade-offs."""

import streamlit as st

from core.serve import artifacts, results
from core.app.comparison import (
    benchmark_table, comparison_table, highlight_ours, protocol_figure, protocol_table, realworld_genre_frame,
    tradeoff_table,
)
from pages._common import accuracy_dataframe, artifacts_dir, chart, ensure_app_navigation, missing

ensure_app_navigation()

HIDE_FLAG = {"measured here": None, "system": st.column_config.TextColumn(width="large")}

st.title("⚖️ Comparison")
st.markdown("On GTZAN, **how** accuracy is measured matters as much as the model. Every number below names its "
            "protocol; only numbers measured under the same protocol can be compared.")
scores, leaked = artifacts.evaluation(artifacts_dir()), artifacts.leaky(artifacts_dir())
trained, timed = artifacts.training(artifacts_dir()), artifacts.benchmark(artifacts_dir())

# ----------------------------------------------------------------------------- state of the art
st.header("Against published results")
rows = comparison_table(results.comparison_rows(artifacts_dir()))
# The whole table, every row and column, text wrapped: this product's rows visible without scrolling.
st.table(highlight_ours(rows, keep_flag=False), hide_index=True)
st.caption(
    "Highlighted rows were measured here. **FF**: the fault-filtered, artist-conditional split of Kereliuk, Sturm & "
    "Larsen (2015): no artist in two parts, repeated, mislabelled and distorted clips left out. **Random** splits "
    "and cross-validation put the same artists (and repeated recordings) in training and test. The original course "
    "report did not state its protocol. Sources: `core/serve/published_results.csv`."
)
if not scores:
    missing("This product's test-list accuracy", artifacts.EVALUATION_FILE)

# ----------------------------------------------------------------------------- honest versus leaky
st.header("The same models, split honestly and split the leaky way")
table = protocol_table(scores, leaked)
if scores and leaked:
    chart(protocol_figure(table), key="protocols", alt="Accuracy of the CNN and the LSTM under both protocols")
if len(table):
    st.dataframe(table, hide_index=True, column_config={"accuracy (%)": st.column_config.NumberColumn(format="%.1f")})
if not leaked:
    missing("The leaky-split experiment", artifacts.LEAKY_FILE)
else:
    st.caption(f"Leaky protocol: {leaked['protocol']} ({leaked['clips']} clips). It scores single windows, so "
               "compare it with the honest single-window figure.")
original = rows[rows["system"].str.startswith("Original course report") | rows["measured here"]]
st.markdown("**The original course report next to this product.** Its CNN and LSTM figures were probably "
            "measured on a leaky split (it does not say); compare them with the leaky rows, not the FF rows.")
st.dataframe(highlight_ours(original[["system", "protocol", "accuracy (%)", "measured here"]]), hide_index=True,
             column_config=HIDE_FLAG)
left, right = st.columns(2)
with left:
    st.subheader("Why the leaky number is too good")
    st.markdown(
        "- Cutting every clip into short segments and splitting the **segments** at random puts pieces of the "
        "same recording in training and in test: the model is tested on music it has already heard.\n"
        "- Even a random split of whole clips leaks: GTZAN has many clips per artist (a third of reggae is Bob "
        "Marley), so the same voices, instruments and studios sit on both sides.\n"
        "- The honest split keeps every artist on one side. It costs accuracy, and it is the only figure that "
        "says something about music the models have never met."
    )
with right:
    st.subheader("GTZAN's known faults (Sturm 2013)")
    st.markdown(
        "- **Repetitions**: exact duplicates and several excerpts of the same recording.\n"
        "- **Mislabelings**: clips that clearly or arguably belong to another genre.\n"
        "- **Distortions**: a few clips are badly distorted, one almost unusable.\n"
        "- **Artist repetition**: many clips by few artists in some genres.\n\n"
        "Sturm counts 50 exact repetitions, 22 excerpts of the same recording and 43 clear mislabelings "
        "(B. L. Sturm, *The GTZAN dataset: its contents, its faults, their effects on evaluation, and its "
        "future use*, 2013). The fault-filtered split leaves these clips out."
    )

# ----------------------------------------------------------------------------- trade-offs
st.header("What each model costs here")
tradeoffs = tradeoff_table(trained, scores, timed)
if len(tradeoffs):
    st.dataframe(tradeoffs, hide_index=True, column_config={
        "test accuracy (%)": st.column_config.NumberColumn(format="%.1f"),
        "parameters": st.column_config.NumberColumn(format="localized"),
        "file (KB)": st.column_config.NumberColumn(format="%.0f"),
        "ms per 30 s clip": st.column_config.NumberColumn(format="%.1f"),
        "training (s)": st.column_config.NumberColumn(format="%.0f"),
        "epochs": st.column_config.NumberColumn(help="Epochs of the network's training; the transfer model's head is "
                                                     "a logistic regression, fitted without epochs"),
    })
    st.caption("Inference: one model's share of classifying a 30 s clip, warm, on the benchmark machine; the "
               "spectrogram both window models read is computed once and not counted here.")
else:
    missing("The trade-offs", artifacts.TRAINING_FILE)
if timed:
    bench = benchmark_table(timed)
    st.dataframe(bench, hide_index=True)
    st.caption(f"Benchmark clip {timed.get('clip', '?')} on {timed.get('machine', 'the benchmark machine')}.")
else:
    missing("Inference times", artifacts.BENCHMARK_FILE)

# ----------------------------------------------------------------------------- beyond GTZAN
st.header("Beyond GTZAN's test images: lossy files, a microphone, real recordings")
if accuracy_dataframe():
    st.caption(results.view_notes(artifacts_dir())[0] + " The microphone column plays each MP3 through a simulated "
               "small speaker, room and microphone (`core/learn/capture.py`, fixed rooms), as when a class records music "
               "from a laptop. The real recordings (Magnatune releases, production-library, Creative Commons, "
               "public-domain and game music) are a user's music: never GTZAN. Their column is the product's honest "
               "real-world figure.")
    genres = results.realworld_per_genre(artifacts_dir())
    if genres:
        st.dataframe(realworld_genre_frame(genres), hide_index=True,
                     column_config={"combined verdict right (%)": st.column_config.NumberColumn(format="%.0f")})
        st.caption("The combined verdict on the real recordings, per genre, cross-validated. Genres with fewer than "
                   "five clips are anecdotes; the twelve disco clips are one album, so no fold learned disco from them.")
else:
    missing("Accuracy beyond the test images", artifacts.EVALUATION_FILE)
