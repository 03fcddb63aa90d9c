"""A Playground configuration shared by the link tests: every control away from its default."""

from dataclasses import replace

from cwrnn.app import playground_state as ps

CUSTOM = replace(
    ps.DEFAULTS,
    source="tone",
    periods=[1, 3, 9, 27],
    module_sizes=[6, 5, 4, 3],
    connectivity="full",
    budget=500,
    baselines=["lstm"],
    preset="adam",
    lr=0.01,
    epochs=1234,
    seeds=3,
    seed=7,
)
