# A busy Python program with a realistic variety of native stacks, for bench/history_memory.sh:
# the interpreter's eval loop under JSON encoding and decoding, regular expressions, sorting with
# key functions, recursion of varying depth, string formatting and hashing. Two threads (the GIL
# lets one run at a time). Runs until killed; prints "ready" when running.
import hashlib
import json
import random
import re
import sys
import threading

WORDS = re.compile(r"[a-z]+(?:-[a-z]+)*|\d+(?:\.\d+)?")


def recurse(depth, value):
    if depth == 0:
        return hashlib.sha256(str(value).encode()).hexdigest()
    return recurse(depth - 1, value * 31 + depth)


def documents(rng):
    return [{"id": i, "name": "item-%d-%s" % (i, "x" * rng.randint(1, 20)),
             "tags": [rng.choice(["red", "green", "blue"]) for _ in range(rng.randint(1, 8))],
             "price": rng.random() * 100} for i in range(rng.randint(50, 400))]


def work(seed):
    rng = random.Random(seed)
    while True:
        task = rng.randint(0, 4)
        if task == 0:
            text = json.dumps(documents(rng))
            json.loads(text)
        elif task == 1:
            text = " ".join("%s-%d %.2f" % (rng.choice(["alpha", "beta", "gamma"]), i, rng.random())
                            for i in range(rng.randint(100, 2000)))
            sum(1 for _ in WORDS.finditer(text))
        elif task == 2:
            rows = documents(rng)
            rows.sort(key=lambda d: (d["price"], d["name"]))
        elif task == 3:
            recurse(rng.randint(1, 60), rng.random())
        else:
            "".join(format(rng.random(), ".6e") for _ in range(rng.randint(100, 3000)))


for n in range(2):
    threading.Thread(target=work, args=(n,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
