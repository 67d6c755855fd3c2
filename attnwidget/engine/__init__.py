"""Models and the recorded forward pass: loading (`models`), what a pass records and how a block is run
again (`capture`, `recording`), the result of a prompt (`extraction.Extraction`) and the object that makes
them (`extractor.AttentionExtractor`), next-token predictions and the logit lens."""
