"""Classify a clip: an example, an upload or a recording; every model side by side; what they heard."""

import streamlit as st

from core.serve.errors import AudioError
from core.serve.examples import CHOSEN_HOW, FULL_QUALITY, example_clips, gallery_summary
from core.app.clip_views import (
    agreement_sentences, gallery_table, is_clear, mfcc_figure, probability_figure, spectrogram_figure, timeline_figure,
    verdict_sentences, waveform_figure, window_votes,
)
from core.serve.catalog import MODEL_TITLES
from pages._common import (
    COMMANDS, chart, classifier, ensure_app_navigation, example_analysis, example_gallery, session_analysis,
)

ensure_app_navigation()

UPLOAD_TYPES = ["wav", "flac", "mp3", "ogg", "opus", "aif", "aiff", "au"]
SOURCES = ("An example clip", "Upload a file", "Record with the microphone")

st.title("🎧 Classify a clip")
models = classifier()
if models is None:
    st.stop()
config = models.config
limit_min = config.max_duration_s / 60

source = st.radio("Audio", SOURCES, horizontal=True, key="source", label_visibility="collapsed")
analysis, playback = None, None
try:
    if source == SOURCES[0]:
        examples = example_clips()
        if not examples:
            st.info(f"No example clips are bundled. They are made by `{COMMANDS['examples']}`.")
        else:
            gallery = example_gallery()
            st.caption(CHOSEN_HOW + " Select a row to analyse that clip.")
            if not gallery.fresh:
                st.info(gallery.note, icon="ℹ️")
            table, help_texts = gallery_table(examples, gallery)
            picked = st.dataframe(table, key="gallery", on_select="rerun", selection_mode="single-row-required",
                                  hide_index=True, alt="The example clips and what each model says about them",
                                  column_config={title: st.column_config.TextColumn(help=text, pinned=title == "Clip")
                                                 for title, text in help_texts.items()})
            example = examples[(picked.selection.rows or [0])[0]]
            st.caption((gallery_summary(gallery) or "") + f" Analysing **{example.clip.split('/')[-1]}** "
                       f"(GTZAN label: **{example.genre}**)."
                       + ("" if example.quality == FULL_QUALITY else f" This clip was {example.quality}."))
            playback = (example.path.read_bytes(), "audio/mpeg")
            analysis = example_analysis(example.path)
    elif source == SOURCES[1]:
        uploaded = st.file_uploader(
            "An audio file: WAV, FLAC, MP3, Ogg (Vorbis or Opus), AIFF or AU",
            type=UPLOAD_TYPES, key="upload",
            help=f"The format is recognised from the content. Only the first {limit_min:g} minutes are analysed.",
        )
        if uploaded is not None:
            data = uploaded.getvalue()
            playback = (data, uploaded.type if uploaded.type.startswith("audio/") else "audio/wav")
            analysis = session_analysis(data)
    else:
        recording = st.audio_input("Record a few seconds of music (10 s or more works best)",
                                   sample_rate=config.sample_rate, key="record")
        if recording is not None:
            analysis = session_analysis(recording.getvalue())
except AudioError as error:
    st.error(str(error), icon="🚫")
    st.stop()

if playback is not None:
    st.audio(playback[0], format=playback[1])
if analysis is None:
    st.stop()

for notice in analysis.notices:
    st.warning(notice, icon="✂️")
st.caption(f"{analysis.format}, {analysis.channels} channel{'s' if analysis.channels > 1 else ''} at "
           f"{analysis.source_sample_rate:,} Hz; {analysis.duration_s:.1f} s long, {analysis.analysed_s:.1f} s "
           f"analysed (at most {limit_min:g} minutes are).")

# ----------------------------------------------------------------------------- the verdict
verdict = analysis.verdict
if verdict is not None:
    st.header("Verdict")
    left, right = st.columns([1, 2], vertical_alignment="center")
    left.metric("Combined verdict", verdict.genre, f"{verdict.confidence:.0%} sure", delta_color="off",
                delta_arrow="off")
    first, how = verdict_sentences(verdict, analysis.predictions, models.verdict_weights)
    with right:
        (st.success if is_clear(analysis.predictions) else st.info)(first)
        st.caption(how)

# ----------------------------------------------------------------------------- every model's answer
st.header("What each model says")
columns = st.columns(len(analysis.predictions))
for column, (name, prediction) in zip(columns, analysis.predictions.items()):
    with column:
        st.subheader(MODEL_TITLES[name])
        st.metric("Genre", prediction.genre, f"{prediction.confidence:.0%} confidence", delta_color="off",
                  delta_arrow="off")
        chart(probability_figure(prediction.probabilities, height=320), key=f"probabilities-{name}",
              alt=f"Probability of every genre according to the {MODEL_TITLES[name]}")
        votes, windows = window_votes(prediction)
        st.caption(f"{1000 * prediction.seconds:.0f} ms for this model; {votes} of {windows} "
                   f"window{'s' if windows > 1 else ''} chose {prediction.genre}.")
st.caption(f"Computing the spectrogram, shared by the CNN, the LSTM and the feature baseline, took "
           f"{1000 * analysis.feature_seconds:.0f} ms.")

st.subheader("Do they agree?")
sentences = agreement_sentences(analysis.predictions)
(st.success if is_clear(analysis.predictions) else st.warning)(sentences[0])
for sentence in sentences[1:]:
    st.markdown(sentence)

# ----------------------------------------------------------------------------- through the clip
st.header("How the prediction moves through the clip")
st.caption("Each column is one window of the clip; darker blue means the model found that genre more likely "
           "there. The clip's answer is the average over all windows.")
for tab, (name, prediction) in zip(st.tabs([MODEL_TITLES[name] for name in analysis.predictions]),
                                   analysis.predictions.items()):
    with tab:
        if name == "baseline":
            st.caption("The baseline judges statistics of a whole 30 s stretch, so it has one column per 30 s.")
        chart(timeline_figure(prediction.window_probabilities, prediction.window_starts_s, prediction.window_seconds,
                              end_s=analysis.analysed_s), key=f"timeline-{name}",
              alt=f"Genre probabilities over time according to the {MODEL_TITLES[name]}")

# ----------------------------------------------------------------------------- what they heard
st.header("What the models heard")
waveform_tab, spectrogram_tab, mfcc_tab = st.tabs(["Waveform", "Mel spectrogram (CNN)", "MFCCs (LSTM)"])
with waveform_tab:
    chart(waveform_figure(analysis.envelope), key="waveform", alt="Waveform of the clip")
    st.caption(f"The sound wave, resampled to {config.sample_rate:,} samples per second and mixed to mono.")
with spectrogram_tab:
    chart(spectrogram_figure(analysis.mel_db, analysis.column_times_s, config), key="spectrogram",
          alt="Mel spectrogram of the clip")
    st.caption(f"{config.n_mels} mel bands (low pitches at the bottom) and {config.column_rate_hz:.1f} columns per "
               f"second; loudness in dB below the loudest point of each 30 s stretch. The CNN sees "
               f"{config.window_seconds:.1f} s of this at a time.")
with mfcc_tab:
    chart(mfcc_figure(analysis.mfcc, analysis.column_times_s, colour_title="standardised"), key="mfcc",
          alt="MFCCs of the clip")
    st.caption(f"{config.n_mfcc} numbers per column that summarise the shape of the spectrum, standardised with "
               "the training-list statistics, as the LSTM reads them.")
