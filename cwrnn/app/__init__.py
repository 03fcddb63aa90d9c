"""Everything the app's pages show, built without Streamlit: figures (`viz`), the Playground's settings and
links, the runs table, clock numbers, run figures, the word view and the paper's results.

The pages only lay these out, so every number, table and figure is unit-tested without a browser. Only
`run_figures` and `word_view` load torch, and only when a run's weights are replayed.
"""
