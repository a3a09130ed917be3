"""Times Python's vaderSentiment on the posts of a file (one post per line): the peer
the import benchmark (benches/import.rs) compares with. Prints posts/s, best of 3.

Run: python3 benches/vader.py TEXTS.txt   (pip install vaderSentiment)
"""
import sys
import time

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

analyzer = SentimentIntensityAnalyzer()
with open(sys.argv[1], encoding="utf-8") as f:
    texts = [line.rstrip("\n") for line in f]
best = None
for _ in range(3):
    started = time.perf_counter()
    for text in texts:
        analyzer.polarity_scores(text)
    took = time.perf_counter() - started
    best = took if best is None else min(best, took)
print(f"{len(texts) / best:.0f}")
