"""Numbers computed from attention maps: per-head scores (`scores`), how heads change between prompts
(`differences`), max-pooling (`pooling`) and which neurons to show (`neurons`). Functions of arrays
(numpy, and torch's fast elementwise kernels where they pay); nothing here imports a model or another
layer of attnwidget, so the engine can use it."""
