"""How it works, for the classroom: from waveform to genre, with the real settings and a real clip."""

import streamlit as st

from core.serve import artifacts
from core.serve.examples import example_clips
from core.app.clip_views import probability_figure, spectrogram_figure, waveform_figure
from core.app.pipeline import baseline_inputs, centres_over_time, pipeline_html, pipeline_steps, window_inputs
from core.app.style import heatmap_figure, mel_ticks, short_title
from core.serve.catalog import MODEL_TITLES
from core.serve.occlusion import BAND_ROWS, PATCH_SECONDS
from pages._common import COMMANDS, artifacts_dir, chart, classifier, ensure_app_navigation, example_analysis

ensure_app_navigation()

# Projector-friendly: large text, few words per idea.
st.html("<style>[data-testid='stMarkdownContainer'] p, [data-testid='stMarkdownContainer'] li "
        "{font-size: 1.45rem; line-height: 1.5;}</style>")

st.title("💡 How it works")
models = classifier()
if models is None:
    st.stop()
config, norm = models.config, models.normalisation
trained = artifacts.training(artifacts_dir()) or {"models": {}}
baseline_architecture = trained["models"].get("baseline", {}).get("architecture")
examples = example_clips()
if not examples:
    st.info(f"The worked example needs the bundled clips, made by `{COMMANDS['examples']}`.")
    st.stop()

labels = [example.label for example in examples]
example = examples[labels.index(st.selectbox("Worked example: a clip from the test list", labels, key="example"))]
analysis = example_analysis(example.path)
st.audio(example.path.read_bytes(), format="audio/mpeg")

# ----------------------------------------------------------------------------- 1. waveform
st.header("1 · Sound is a list of numbers")
st.markdown(f"- The microphone measures air pressure **{config.sample_rate:,} times a second**.\n"
            "- Up and down, fast and slow: hard to read for a person, and for a model.")
chart(waveform_figure(analysis.envelope, height=200), key="waveform", alt="Waveform of the example clip")

# ----------------------------------------------------------------------------- 2. spectrogram
st.header("2 · A spectrogram shows pitch over time")
st.markdown(
    f"- Cut the sound into slices of **{1000 * config.n_fft / config.sample_rate:.0f} ms**; "
    "measure how loud every pitch is in each slice.\n"
    f"- **{config.n_mels} mel bands**: spaced like our ears hear, fine for low notes, coarse for high ones.\n"
    f"- **{config.column_rate_hz:.1f} columns per second**, loudness in dB over a range of {config.top_db:.0f} dB.\n"
    "- Low pitches at the bottom, time from left to right, bright = loud."
)
unit_columns = analysis.unit_levels[0].shape[1]   # the first 30 s, whose windows are shown below
db, times = analysis.mel_db[:, :unit_columns], analysis.column_times_s[:unit_columns]
windows = len(analysis.predictions["cnn"].window_starts_s) if "cnn" in analysis.predictions else 1
index = st.slider("Which window do the models look at?", 0, max(windows - 1, 1), windows // 2, key="window",
                  disabled=windows < 2)
architectures = {name: trained["models"].get(name, {}).get("architecture") for name in analysis.predictions}
cnn_centred, lstm_centred = (centres_over_time(architectures.get(name)) for name in ("cnn", "lstm"))
inputs = window_inputs(analysis.unit_levels[0], min(index, windows - 1), config, norm, cnn_centred, lstm_centred)
span = (inputs.start_s, inputs.start_s + config.window_seconds)
chart(spectrogram_figure(db, times, config, highlight_s=span, height=380), key="spectrogram",
      alt="Mel spectrogram of the example clip with the chosen window outlined")

# ----------------------------------------------------------------------------- 3. windows
st.header("3 · The models look at short windows")
st.markdown(
    f"- One window = **{config.window_columns} columns = {config.window_seconds:.1f} s** (white box above).\n"
    f"- A new window starts every **{config.window_hop_columns / config.column_rate_hz:.1f} s**: "
    f"this clip gives **{windows}** windows.\n"
    "- Every window gets its own answer; the clip's answer is their **average**."
)

# ----------------------------------------------------------------------------- 4. CNN versus LSTM
st.header("4 · Two ways to read a window")
cnn_column, lstm_column = st.columns(2)
window_title = f"window {index}: {span[0]:.1f} s to {span[1]:.1f} s"
with cnn_column:
    st.subheader("The CNN sees a picture")
    st.markdown("- Small **3 × 3 filters** slide over the picture.\n"
                "- Each lights up on a local pattern: a drum hit (a vertical line), a held note "
                "(a horizontal line), a slide.\n"
                "- Deeper layers combine patterns into bigger ones."
                + ("\n- First, each row loses its average: a speaker's or a microphone's colour cancels out."
                   if cnn_centred else ""))
    chart(heatmap_figure(inputs.cnn, inputs.times_s, list(range(config.n_mels)), x_title="time (s)",
                         y_title="mel band", colour_title="centred" if cnn_centred else "standardised",
                         title=f"What the CNN sees, {window_title}",
                         colorscale="RdBu_r", zmid=0.0, height=380, y_ticks=mel_ticks(config)),
          key="cnn-input", alt="The CNN's input for the chosen window")
with lstm_column:
    st.subheader("The LSTM reads a sequence")
    st.markdown(f"- **{config.n_mfcc} MFCCs** per column: a summary of the spectrum's shape (the timbre).\n"
                "- A small convolution first turns every column and its neighbours into short patterns.\n"
                f"- The LSTM reads them **column after column**, {config.window_columns} in all.\n"
                "- A **memory** carries what it heard so far: it notices what changes and what repeats."
                + ("\n- First, each MFCC loses its average, so a speaker's colour cancels out." if lstm_centred else ""))
    chart(heatmap_figure(inputs.lstm, inputs.times_s, list(range(config.n_mfcc)), x_title="time (s): reading order",
                         y_title="MFCC coefficient", colour_title="centred" if lstm_centred else "standardised",
                         title=f"What the LSTM reads, {window_title}", colorscale="RdBu_r", zmid=0.0, height=380),
          key="lstm-input", alt="The LSTM's input for the chosen window")

st.subheader("What each one says about this window")
for column, name in zip(st.columns(2), ("cnn", "lstm")):
    if name in analysis.predictions:
        prediction = analysis.predictions[name]
        with column:
            chart(probability_figure(prediction.window_probabilities[min(index, windows - 1)], height=300,
                                     title=MODEL_TITLES[name]), key=f"window-{name}",
                  alt=f"Genre probabilities of the {MODEL_TITLES[name]} for the chosen window")

# ----------------------------------------------------------------------------- 5. the answer
st.header("5 · Average the windows: the clip's genre")
for column, (name, prediction) in zip(st.columns(len(analysis.predictions)), analysis.predictions.items()):
    column.metric(short_title(name), prediction.genre, f"{prediction.confidence:.0%} sure", delta_color="off",
                  delta_arrow="off", help=MODEL_TITLES[name])
st.markdown(f"- The true genre of this clip is **{example.genre}**; no model was trained on it.\n"
            "- The feature baseline does not use windows: it judges "
            f"**{baseline_inputs(config, baseline_architecture) or 'a few dozen'} statistics** of the whole 30 s clip.")

st.header("6 · Where did the CNN listen?")
st.markdown(f"- Hide one small patch of the picture ({BAND_ROWS} mel bands by {PATCH_SECONDS:g} s) and ask the CNN "
            "again: if it becomes less sure of its answer, that patch mattered.\n"
            "- Do this for every patch and colour the picture by how much each one mattered: that is an "
            "**occlusion map** (on *Classify a clip*, under \"Where the CNN listened\").")

st.header("The whole path, model by model")
for column, name in zip(st.columns(len(analysis.predictions)), analysis.predictions):
    with column:
        st.subheader(MODEL_TITLES[name])
        levelled = name == "musicnn" and models.transfer_head.settings.level_db is not None
        st.html(pipeline_html(pipeline_steps(name, config, architectures[name], levelled)))
