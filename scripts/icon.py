#!/usr/bin/env python3
"""icon.py - draw Pigeonhole's app icon: a pigeonhole rack, one slot holding a letter.

Writes icons/app-icon.png (1024x1024 RGBA), the source the Tauri CLI turns into the
icon set:  python3 scripts/icon.py && npx @tauri-apps/cli icon icons/app-icon.png
Needs Pillow (pip install pillow); drawn 4x larger and scaled down for smooth edges.
"""

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 1024
SCALE = 4
S = SIZE * SCALE


def px(value):
    """A length on the 1024 grid, in supersampled pixels."""
    return round(value * SCALE)


def vertical_gradient(top, bottom):
    gradient = Image.new("RGBA", (1, S))
    for y in range(S):
        t = y / (S - 1)
        gradient.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    return gradient.resize((S, S))


def main():
    icon = Image.new("RGBA", (S, S), (0, 0, 0, 0))

    # The tile: a rounded square with a deep blue-teal gradient.
    margin, radius = px(64), px(200)
    mask = Image.new("L", (S, S), 0)
    ImageDraw.Draw(mask).rounded_rectangle((margin, margin, S - margin, S - margin), radius, fill=255)
    icon.paste(vertical_gradient((28, 110, 140, 255), (16, 52, 92, 255)), (0, 0), mask)

    draw = ImageDraw.Draw(icon)
    # A 3 x 3 rack of pigeonholes: dark slots in a light frame.
    left, top, cell, gap = 232, 232, 170, 30
    for row in range(3):
        for col in range(3):
            x = left + col * (cell + gap)
            y = top + row * (cell + gap)
            draw.rounded_rectangle((px(x), px(y), px(x + cell), px(y + cell)), px(26), fill=(9, 30, 56, 255))

    # The letter in the middle slot, sticking out of it: white envelope, teal flap.
    ex0, ey0, ex1, ey1 = 372, 420, 652, 604
    draw.rounded_rectangle((px(ex0), px(ey0), px(ex1), px(ey1)), px(18), fill=(250, 250, 247, 255))
    flap = [(px(ex0 + 8), px(ey0 + 8)), (px((ex0 + ex1) / 2), px(ey0 + 104)), (px(ex1 - 8), px(ey0 + 8))]
    draw.line(flap, fill=(28, 110, 140, 255), width=px(20), joint="curve")
    # A warm dot on the letter: "new mail".
    draw.ellipse((px(ex1 - 58), px(ey0 - 42), px(ex1 + 42), px(ey0 + 58)), fill=(255, 176, 59, 255))

    out = Path(__file__).resolve().parent.parent / "icons" / "app-icon.png"
    icon.resize((SIZE, SIZE), Image.LANCZOS).save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
