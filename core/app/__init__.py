"""What the app draws: figures and tables as plain functions (plotly, pandas), tested without a browser.

One module per page or concern: ``clip_views`` (Classify a clip), ``explain`` (its tags and occlusion
map), ``playlist`` (its table of uploaded clips), ``pipeline`` (How it works), ``training``, ``comparison``
and ``experiments``, on the shared ``style`` (colours, fonts, ticks, the labelled heatmap). Imports serving only; the pages (``pages/``) are short scripts over this and
``core.serve``, which does the analysis they draw.
"""
