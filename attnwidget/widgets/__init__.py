"""The notebook widgets (`attention.AttentionWidget`, `compare.CompareWidget`), what they share (`base`) and
the wire format their arrays travel in (`encode`, read by js/decode.ts)."""
