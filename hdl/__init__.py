"""The Sentron core in Amaranth HDL: Morton wiring, coordinate memory, the three lanes, issue, debug, host link."""
