"""The data the tasks train on: audio files and clips (Experiment 1), MFCC features and spoken-word datasets
(Experiment 2). Plain numpy and scipy, no torch."""
