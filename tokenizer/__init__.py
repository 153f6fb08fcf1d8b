"""SentencePiece BPE training, export and encoding. No Beam here."""
