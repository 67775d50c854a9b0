"""Which face regions drive a model's decisions, with maps that are checked: attribution methods, their
faithfulness (deletion and insertion), region masks from the landmark template, and several models
studied on the same faces. ``python -m fer.explain`` is the command."""
