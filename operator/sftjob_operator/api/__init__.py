"""The SFTJob API: resource identity, legacy-name normalization and spec validation helpers."""
