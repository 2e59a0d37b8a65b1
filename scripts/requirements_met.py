"""Exit 0 when every pinned requirement (name==version) is installed at that version, else 1.

    python scripts/requirements_met.py requirements.txt [extra==1.0 ...] [--verbose]
"""
import importlib.metadata
import sys


def pins(args):
    for arg in args:
        if "==" in arg:
            yield arg
        else:
            for line in open(arg):
                line = line.split("#", 1)[0].strip()
                if line:
                    yield line


def main(argv):
    verbose = "--verbose" in argv
    missing = []
    for pin in pins(a for a in argv if a != "--verbose"):
        name, _, version = pin.partition("==")
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            have = None
        if have is None or (version and have != version):
            missing.append(f"{name}: want {version or 'any'}, have {have}")
    if missing and verbose:
        print("setup: still missing after install:\n  " + "\n  ".join(missing), file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
