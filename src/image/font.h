/* font.h — the embedded bitmap font used by fn_draw_text (src/image/font.c). */
#ifndef FN_FONT_H
#define FN_FONT_H

#define FN_FONT_GLYPH_W 5 /* ink columns */
#define FN_FONT_GLYPH_H 7 /* ink rows */
#define FN_FONT_CELL_W 6  /* advance per character */
#define FN_FONT_CELL_H 8  /* advance per line */

/* 1 where glyph ch (ASCII; others map to '?') has ink at (col, row), else 0. */
int fn_font_pixel(int ch, int col, int row);

#endif
