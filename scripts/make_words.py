"""Generate the shipped synthetic spoken-word set (assets/words) with espeak-ng.

The paper's Experiment 2 uses 25 TIMIT words, 7 speakers each (5 train, 2 test). TIMIT cannot be
shipped, so this script speaks the same 25 words with 7 espeak-ng voices and varies each recording
(speaking rate, pitch, vocal-tract length, background noise) so that the task is not trivial.
Every random choice comes from --seed, so the output is fixed given espeak-ng's own output.

    python scripts/make_words.py            # writes assets/words/ (WAVs, split.json, manifest.csv, README.md)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly

from cwrnn.data.speech_data import WORD_GROUPS, read_wav

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_RATE = 16_000
# File-name voice (no underscores) -> espeak-ng voice+variant: accents change the pronunciation,
# variants change the timbre (sex, formants, breathiness).
VOICES = {
    "usm3": "en-us+m3",
    "usf2": "en-us+f2",
    "rpm1": "en-gb-x-rp+m1",
    "scotf4": "en-gb-scotland+f4",
    "wmidklatt3": "en-gb-x-gbcwmd+klatt3",
    "caribm7": "en-029+m7",
    "nycf3": "en-us-nyc+f3",
}
# Like the paper: 5 voices train, 2 unseen voices test; one male and one female, each with an accent
# no training voice has.
TEST_VOICES = ("caribm7", "nycf3")
SPEED_WPM = (130, 200)  # espeak-ng -s; its default is 175
PITCH = (30, 70)  # espeak-ng -p, 0..99; its default is 50
VTL_FACTOR = (0.9, 1.1)
SNR_DB = (10.0, 30.0)
# Resampling to a multiple of 50 Hz keeps the polyphase filter short (up/down share a factor of 50).
RATE_QUANTUM = 50
TRIM_BELOW_PEAK_DB = 40.0
TRIM_MARGIN_S = 0.03
PEAK = 0.9


@dataclass(frozen=True)
class TakeParams:
    speed_wpm: int
    pitch: int
    vtl_factor: float
    snr_db: float


def take_params(rng: np.random.Generator) -> TakeParams:
    """Draw one recording's variation; vtl_factor is quantised to the rate actually used."""
    speed = int(rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1))
    pitch = int(rng.integers(PITCH[0], PITCH[1] + 1))
    stretched_rate = round(OUT_RATE * rng.uniform(*VTL_FACTOR) / RATE_QUANTUM) * RATE_QUANTUM
    return TakeParams(speed, pitch, stretched_rate / OUT_RATE, float(rng.uniform(*SNR_DB)))


def change_vocal_tract(signal: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """Resample to OUT_RATE * factor and play back at OUT_RATE: factor > 1 lowers every frequency
    (formants and pitch) by 1/factor and lengthens the word, like a longer vocal tract."""
    ratio = Fraction(round(OUT_RATE * factor), rate)
    return resample_poly(signal, ratio.numerator, ratio.denominator)


def trim_silence(signal: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading and trailing 10 ms frames more than TRIM_BELOW_PEAK_DB below the loudest frame."""
    hop = rate // 100
    n = len(signal) // hop
    rms = np.sqrt(np.mean(signal[: n * hop].reshape(n, hop) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-TRIM_BELOW_PEAK_DB / 20))
    margin = int(TRIM_MARGIN_S * rate)
    return signal[max(0, loud[0] * hop - margin) : min(len(signal), (loud[-1] + 1) * hop + margin)]


def add_noise(signal: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise at `snr_db` below the signal's mean power."""
    noise_power = np.mean(signal**2) / 10 ** (snr_db / 10)
    return signal + rng.normal(0.0, np.sqrt(noise_power), size=signal.shape)


def augment(signal: np.ndarray, rate: int, params: TakeParams, rng: np.random.Generator) -> np.ndarray:
    """espeak-ng output -> the shipped 16 kHz int16 recording."""
    trimmed = trim_silence(change_vocal_tract(signal, rate, params.vtl_factor), OUT_RATE)
    noisy = add_noise(trimmed, params.snr_db, rng)
    return np.round(noisy * (PEAK * 32767 / np.abs(noisy).max())).astype(np.int16)


def synthesize(word: str, voice: str, speed_wpm: int, pitch: int) -> tuple[np.ndarray, int]:
    """One word from espeak-ng as float samples and their rate."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "word.wav"
        # -w, not --stdout: on a pipe espeak-ng cannot fix up the WAV header's length fields.
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-w", str(wav), word],
            check=True,
            capture_output=True,
        )
        return read_wav(wav)


def espeak_version() -> str:
    """e.g. 'eSpeak NG text-to-speech: 1.51 (Debian package 1.51+dfsg-10+deb12u2)'."""
    banner = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True).stdout
    version = banner.split("Data at")[0].strip()
    if shutil.which("dpkg-query"):
        package = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "espeak-ng"], capture_output=True, text=True)
        if package.returncode == 0:
            version += f" (Debian package {package.stdout})"
    return version


README = """# Synthetic spoken words (Experiment 2)

**This is SYNTHETIC speech**, made by a text-to-speech program, not recordings of people. It stands in
for the paper's TIMIT words, which cannot be shipped: the same 25 words in 5 suffix groups
({groups}), {n_voices} espeak-ng voices per word.

- {n_files} files, `{{word}}_{{voice}}_{{take}}.wav`, 16 kHz mono 16-bit PCM, silence trimmed.
- Split by voice as in the paper (5 speakers train, 2 test): train voices {train}
  ({n_train} files), test voices {test} ({n_test} files). `split.json` holds it; `cwrnn.data.speech_data.shipped_words()` uses it.
- Voices (file name: espeak-ng voice+variant): {voices}.
- Each recording varies, drawn from seed {seed}: speaking rate {speed[0]}-{speed[1]} words/min, pitch {pitch[0]}-{pitch[1]}
  (espeak-ng -p), vocal-tract length by resampling by a factor {vtl[0]}-{vtl[1]}, white background noise at
  {snr[0]:g}-{snr[1]:g} dB SNR. `manifest.csv` lists every file's values.

## How it was made
```
python scripts/make_words.py --out {out} --seed {seed}
```
with `{version}`. Given the same espeak-ng output the script is deterministic.

## Licence
espeak-ng is GPL-3.0-or-later. These WAV files are output of that program, not part of it; this project
ships them under CC0 1.0 (public domain dedication).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "assets" / "words")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed (Debian: apt-get install espeak-ng)")

    args.out.mkdir(parents=True, exist_ok=True)
    words = [w for group in WORD_GROUPS for w in group]
    for word in words:  # stale takes of a renamed voice would otherwise stay in the set
        for old in args.out.glob(f"{word}_*.wav"):
            old.unlink()
    rows = []
    for w_i, word in enumerate(words):
        for v_i, (name, voice) in enumerate(VOICES.items()):
            rng = np.random.default_rng([args.seed, w_i, v_i])
            params = take_params(rng)
            signal, rate = synthesize(word, voice, params.speed_wpm, params.pitch)
            file = f"{word}_{name}_0.wav"
            wavfile.write(args.out / file, OUT_RATE, augment(signal, rate, params, rng))
            split = "test" if name in TEST_VOICES else "train"
            rows.append(
                {"file": file, "word": word, "voice": name, "espeak_voice": voice, "split": split, **vars(params)}
            )

    with open(args.out / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "vtl_factor": f"{r['vtl_factor']:.4f}", "snr_db": f"{r['snr_db']:.2f}"} for r in rows)
    train = [v for v in VOICES if v not in TEST_VOICES]
    (args.out / "split.json").write_text(json.dumps({"train": train, "test": list(TEST_VOICES)}, indent=2) + "\n")
    (args.out / "README.md").write_text(
        README.format(
            groups="; ".join(", ".join(g) for g in WORD_GROUPS),
            n_voices=len(VOICES),
            n_files=len(rows),
            train=", ".join(train),
            test=", ".join(TEST_VOICES),
            n_train=sum(r["split"] == "train" for r in rows),
            n_test=sum(r["split"] == "test" for r in rows),
            voices=", ".join(f"{k}: `{v}`" for k, v in VOICES.items()),
            seed=args.seed,
            out=os.path.relpath(args.out, REPO_ROOT),
            speed=SPEED_WPM,
            pitch=PITCH,
            vtl=VTL_FACTOR,
            snr=SNR_DB,
            version=espeak_version(),
        )
    )
    print(f"wrote {len(rows)} files to {args.out}")


if __name__ == "__main__":
    main()
