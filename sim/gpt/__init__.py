"""The GPT that generates names on the Sentron: its shape and weight layout (model), its plain-Python reference (reference), its trained weights (weights.phext)."""
