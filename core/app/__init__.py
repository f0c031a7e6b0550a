"""What the app draws: figures and tables as plain functions (plotly, pandas), tested without a browser.

Imports serving only; the pages (``pages/``) are short scripts over this and ``core.serve``.
"""
