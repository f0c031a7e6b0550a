"""Classify a clip: an example, an upload (or a playlist) or a recording; every model side by side; what they
heard, and why they answered as they did."""

import hashlib

import streamlit as st

from core.serve.errors import AudioError
from core.serve.examples import CHOSEN_HOW, FULL_QUALITY, example_clips, gallery_summary
from core.app.clip_views import (
    agreement_sentences, gallery_table, is_clear, mfcc_figure, probability_figure, spectrogram_figure, timeline_figure,
    verdict_sentences, waveform_figure, window_votes,
)
from core.app.explain import TOP_TAGS, head_sentence, occlusion_figure, occlusion_sentence, pushing_tags, tags_figure
from core.app.playlist import (EXPECTED, FILE, PLAYLIST_MAX, playlist_confusion, playlist_csv, playlist_scores,
                               playlist_table)
from core.app.style import column_title
from core.app.training import confusion_figure
from core.serve.catalog import MODEL_TITLES, TITLES
from core.serve.config import GENRES
from core.serve.occlusion import BAND_ROWS
from pages._common import (
    COMMANDS, chart, classifier, clip_records, ensure_app_navigation, example_analysis, example_gallery,
    occlusion_on_demand, session_analysis,
)

ensure_app_navigation()

UPLOAD_TYPES = ["wav", "flac", "mp3", "ogg", "opus", "aif", "aiff", "au"]
SOURCES = ("An example clip", "Upload a file", "Record with the microphone")


def playlist(files: list, output_names: list[str]):
    """Two or more uploads: analyse each, show the table (the expected genre editable), how often each model
    gave it, and the CSV; return the file whose full analysis the visitor picks (None until one is picked)."""
    records = clip_records(files)
    st.header(f"Your clips ({len(files)})")
    unread = [record for record in records if not record["ok"]]
    if unread:   # in full here: the table's last column cuts a long sentence at its edge
        st.caption(f"{len(unread)} of the files could not be read:\n"
                   + "\n".join(f"- **{record['file']}**: {record['error']}" for record in unread))
    table, help_texts = playlist_table(records, output_names)
    this_upload = hashlib.sha256(" ".join(file.file_id for file in files).encode()).hexdigest()[:16]
    edited = st.data_editor(
        table, key=f"expected-{this_upload}", hide_index=True, placeholder="choose…",
        disabled=[column for column in table if column != EXPECTED],
        alt="Your clips, what each model says about them and the genre you expect",
        column_config={column: st.column_config.TextColumn(help=text, pinned=column == FILE)
                       for column, text in help_texts.items()}
                      | {EXPECTED: st.column_config.SelectboxColumn(help=help_texts[EXPECTED], options=GENRES)})
    expected = [genre if isinstance(genre, str) and genre else None for genre in edited[EXPECTED]]
    st.download_button("Download the table (CSV)", playlist_csv(records, expected, output_names),
                       file_name="genre-lab clips.csv", mime="text/csv", icon="⬇️")
    scores = playlist_scores(records, expected, output_names)
    if not scores:
        st.caption(f"Fill in the **{EXPECTED.lower()}** of some clips to see how often each model gives it.")
    else:
        st.subheader("How often each model gave the genre you expected")
        for column, (name, (right, counted)) in zip(st.columns(len(scores)), scores.items()):
            column.metric(column_title(name), f"{right / counted:.0%}", f"{right} of {counted} clips",
                          delta_color="off", delta_arrow="off", help=TITLES[name])
        for tab, name in zip(st.tabs([column_title(name) for name in scores]), scores):
            with tab:
                matrix, genres = playlist_confusion(records, expected, name)
                chart(confusion_figure(matrix, genres, height=160 + 45 * len(genres)), key=f"confusion-{name}",
                      alt=f"Expected genre against the answer of the {column_title(name)}")
    classified = [index for index, record in enumerate(records) if record["ok"]]
    picked = st.selectbox("Show the full analysis of", classified, index=None, key=f"picked-{this_upload}",
                          format_func=lambda index: files[index].name, placeholder="one of your clips")
    return None if picked is None else files[picked]


st.title("🎧 Classify a clip")
models = classifier()
if models is None:
    st.stop()
config = models.config
limit_min = config.max_duration_s / 60

source = st.radio("Audio", SOURCES, horizontal=True, key="source", label_visibility="collapsed")
analysis, playback, data = None, None, None
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
            data = example.path.read_bytes()
            playback = (data, "audio/mpeg")
            analysis = example_analysis(example.path)
    elif source == SOURCES[1]:
        files = st.file_uploader(
            "Audio files: WAV, FLAC, MP3, Ogg (Vorbis or Opus), AIFF or AU", type=UPLOAD_TYPES, key="upload",
            accept_multiple_files=True,
            help=f"The format is recognised from the content. Only the first {limit_min:g} minutes of a file are "
                 f"analysed. Choose up to {PLAYLIST_MAX} files at once for a table of them all.",
        )
        if len(files) > PLAYLIST_MAX:
            st.warning(f"You chose {len(files)} files, and at most {PLAYLIST_MAX} are analysed at once: the last "
                       f"{len(files) - PLAYLIST_MAX} ({', '.join(file.name for file in files[PLAYLIST_MAX:])}) were "
                       "left out. Upload them in another round.", icon="✂️")
            files = files[:PLAYLIST_MAX]
        uploaded = files[0] if len(files) == 1 else playlist(files, models.output_names) if files else None
        if uploaded is not None:
            data = uploaded.getvalue()
            playback = (data, uploaded.type if uploaded.type.startswith("audio/") else "audio/wav")
            analysis = session_analysis(data)
    else:
        recording = st.audio_input("Record a few seconds of music (10 s or more works best)",
                                   sample_rate=config.sample_rate, key="record")
        if recording is not None:
            data = recording.getvalue()
            analysis = session_analysis(data)
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
        chart(probability_figure(prediction.probabilities, height=300, narrow=True), key=f"probabilities-{name}",
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

# ----------------------------------------------------------------------------- what the tagger hears
heard = analysis.heard
if heard is not None:
    st.header("What the tagger hears")
    head, transfer = models.transfer_head, analysis.predictions["musicnn"]
    push = head.push(heard, GENRES.index(transfer.genre))
    named = pushing_tags(push, head.reads_tags)
    st.caption(f"musicnn, pretrained on a million songs, gives every 3 s patch a probability for each of "
               f"{len(heard.tags)} Last.fm tags; here are the clip's {TOP_TAGS} likeliest, averaged over the patches "
               f"the pretrained model heard"
               + (", and in red the tags that pushed its genre head most (named below)." if named else "."))
    chart(tags_figure(heard, named), key="tags", alt="The tags the pretrained tagger hears in the clip")
    st.markdown(head_sentence(push, heard, named, transfer.genre, head.settings.features))

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

# ----------------------------------------------------------------------------- where the CNN listened
if "cnn" in analysis.predictions:
    st.header("Where the CNN listened")
    st.caption(f"Hide one patch of the spectrogram ({BAND_ROWS} mel bands by about half a second) from the CNN, "
               "measure how much its probability for its answer falls, and repeat for every patch: red where hiding "
               "a patch lowered it, blue where it raised it.")
    occluded = occlusion_on_demand(data, analysis, "Show where the CNN listened")
    if occluded is not None:
        chart(occlusion_figure(analysis.mel_db, analysis.column_times_s, occluded, config), key="occlusion",
              alt="Where hiding part of the spectrogram changed the CNN's answer")
        st.markdown(occlusion_sentence(occluded, config))
        st.caption(f"{occluded.drops.size:,} patches, each hidden from every CNN window that sees it; computed in "
                   f"{occluded.seconds:.1f} s.")
