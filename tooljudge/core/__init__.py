"""The bottom layer: what data_prep, eval and train all need.

Call parsers (``tool_parsers``), the BFCL checker (``ast_checker``), control-token-safe encoding
(``control_text``) and model generation backends (``backends``). Nothing here imports ``data_prep``, ``eval``
or ``train``; ``tests/test_layers.py`` enforces it.
"""
