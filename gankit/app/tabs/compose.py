"""Compose tab (MidiNet runs): a chord progression, a seed, a tempo and (model 3) a real bar to
start from -> the melody as a piano roll, an audio player and the MIDI file. The same pipeline
as `gankit compose` (gankit.pipelines.music.compose / write_song). The audio is fluidsynth's
rendering when fluidsynth and a General MIDI soundfont are installed, else gankit's plain
built-in synth (the status line says which)."""

from __future__ import annotations

import gradio as gr

from gankit.app.context import AppContext, guarded, seed_value
from gankit.app.tabs import tab
from gankit.errors import GankitError

MAX_BARS = 64
MAX_PRIMES = 50  # test bars offered as starting points
DEFAULT_CHORDS = "C G Am F C G F C"


def music_run(ctx: AppContext, name: str):
    from gankit.pipelines.music import music_model

    run = ctx.run(name, "compose")
    music_model(run)  # a one-line error for a run of another recipe
    return run


def chord_text(text) -> str:
    t = " ".join(str(text or "").split())
    if not t:
        raise GankitError("chords: empty; write one chord per bar, e.g. C G Am F")
    if len(t.split()) > MAX_BARS:
        raise GankitError(f"chords: {len(t.split())} bars; at most {MAX_BARS}")
    return t


@tab("compose", "Compose", needs="compose", order=60)
def build(ctx: AppContext) -> None:
    names = ctx.choices("compose")
    pick = gr.Dropdown(names, value=names[0] if names else None, label="Run")
    status = gr.Markdown(elem_id="compose-status")
    with gr.Row():
        chords = gr.Textbox(DEFAULT_CHORDS, label="Chords, one per bar (C, Am, F#, Bbm ...)", max_lines=1,
                            elem_id="compose-chords")
        seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="compose-seed")
        tempo = gr.Slider(40, 200, value=90, step=5, label="Tempo (quarter notes per minute)", elem_id="compose-tempo")
        prime = gr.Dropdown(["none"], value="none", label="Start from a real bar (model 3)", visible=False,
                            elem_id="compose-prime")
    go = gr.Button("Compose", variant="primary", elem_id="compose-button")
    roll = gr.Image(label="Piano roll (melody and chords)", format="png", interactive=False, elem_id="compose-roll")
    audio = gr.Audio(label="Listen", interactive=False, elem_id="compose-audio")
    midi = gr.File(label="Download MIDI", interactive=False, elem_id="compose-midi")

    @guarded(status)
    def configure(name):
        run = music_run(ctx, name)
        model = int(run.recipe.model)
        primes = ["none"]
        if model == 3:
            try:
                primes += [f"test:{i}" for i in range(min(len(run.held_out()), MAX_PRIMES))]
            except GankitError:  # no test split reachable: composing without a prime still works
                pass
        return {prime: gr.update(choices=primes, value="none", visible=model == 3),
                status: f"MidiNet model {model}, step {run.step}"
                        + (" (model 1 ignores the chords; they play in the accompaniment)" if model == 1 else "")}

    @guarded(status)
    def make(name, text, s, bpm, start):
        from gankit.data.music import chord_name
        from gankit.pipelines.music import compose, synth, write_song

        run = music_run(ctx, name)
        text, s, bpm = chord_text(text), seed_value(s), float(bpm)
        if not 0 < bpm <= 400:
            raise GankitError(f"tempo {bpm}: expected more than 0 and at most 400 quarter notes per minute")
        song = compose(run, text, seed=s, prime=None if start in (None, "", "none") else str(start))
        files = write_song(song, ctx.output(f"song-seed{s}", ".mid"), wav=True, tempo=bpm)
        if "wav" in files:
            sound, how = str(files["wav"]), "fluidsynth"
        else:
            rate = 22050
            sound, how = (rate, (synth(song.melody, song.chords, bpm, rate) * 32767).astype("int16")), "built-in synth"
        bars = " ".join(chord_name(c) for c in song.chords)
        return {roll: str(files["png"]), audio: sound, midi: str(files["midi"]),
                status: f"{len(song.melody)} bars over {bars}, MidiNet model {song.model}, seed {s}"
                        + (f", starting from {start}" if song.primed else "") + f"; audio: {how}"}

    pick.change(configure, [pick], [status, prime])
    go.click(make, [pick, chords, seed, tempo, prime], [status, roll, audio, midi], concurrency_limit=2)
    chords.submit(make, [pick, chords, seed, tempo, prime], [status, roll, audio, midi], concurrency_limit=2)
    ctx.pickers.append((pick, "compose"))
    if names:
        ctx.on_load.append([(configure, [pick], [status, prime])])
