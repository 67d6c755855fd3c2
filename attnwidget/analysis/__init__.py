"""Numbers computed from attention maps: per-head scores (`scores`), how heads change between prompts
(`differences`), max-pooling (`pooling`) and which neurons to show (`neurons`). Plain numpy on arrays;
nothing here imports a model or the other layers, so the engine can use it."""
