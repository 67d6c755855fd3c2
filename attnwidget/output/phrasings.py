"""Built-in sets of contrasting phrasings for `attnwidget compare --mode ...`.

Each set says one thing in several ways, so that differences inside the model come from the phrasing.
"""

from __future__ import annotations

PHRASINGS: dict[str, list[str]] = {
    # The same fact, reworded.
    "simple": [
        "The cat sat on the mat.",
        "A cat was sitting on a mat.",
        "On the mat sat a cat.",
    ],
    # The same question, asked three ways.
    "questions": [
        "What is the capital of France?",
        "Can you tell me what the capital of France is?",
        "The capital of France is which city?",
    ],
    # The same kind of sentence with opposite and neutral feelings.
    "sentiment": [
        "I absolutely loved this movie, it was wonderful.",
        "I really hated this movie, it was terrible.",
        "I watched this movie, it was fine.",
    ],
}

MODES = ("simple", "questions", "sentiment", "interactive", "custom", "all")
