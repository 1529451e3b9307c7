/* isola_keyvalue.h: the `isola:keyvalue` imports for C guests (core modules, wasm32-wasi or freestanding
 * wasm32), as docs/keyvalue-abi.md specifies them. Header only: include it, the host provides the functions.
 *
 * Every function returns an int32_t: >= 0 is success, a negative value one of the ISOLA_KV_* codes below.
 * Strings (store names, keys, prefixes, cursors) are UTF-8 bytes with a length, not NUL-terminated.
 *
 *   int32_t s = isola_kv_open("default", 7);               // a handle >= 0 for this request
 *   int64_t n;
 *   if (s < 0 || isola_kv_increment(s, "hits", 4, 1, &n) < 0) {
 *     char msg[200]; int32_t len = isola_kv_last_error(msg, sizeof msg);   // what went wrong
 *   }
 */
#ifndef ISOLA_KEYVALUE_H
#define ISOLA_KEYVALUE_H

#include <stdint.h>

#define ISOLA_KV_NOT_FOUND (-1)     /* get: no such key */
#define ISOLA_KV_ACCESS_DENIED (-2) /* open: the function was not granted this store */
#define ISOLA_KV_NO_SUCH_STORE (-3) /* open: not a store name */
#define ISOLA_KV_INVALID (-4)       /* a bad handle, key, pointer range, cursor, or a counter that is not an integer */
#define ISOLA_KV_TOO_LARGE (-5)     /* a key or value past the limits, or the store's quota is full */
#define ISOLA_KV_UNAVAILABLE (-6)   /* the store did not answer: try later */
#define ISOLA_KV_LIMIT (-7)         /* this request used up its store calls */
#define ISOLA_KV_OTHER (-8)         /* anything else: isola_kv_last_error says what */

#ifdef __cplusplus
extern "C" {
#endif

#define ISOLA_KV_IMPORT(name) __attribute__((import_module("isola:keyvalue"), import_name(name)))

/* A store handle (>= 0), valid for this request. */
ISOLA_KV_IMPORT("open") int32_t isola_kv_open(const char *name, int32_t name_len);
/* The value's length; the value is copied to buf only if it fits (len <= buf_cap). Otherwise call again at
 * once with a buffer of that size: the host answers from the first call, without asking the store again. */
ISOLA_KV_IMPORT("get") int32_t isola_kv_get(int32_t store, const char *key, int32_t key_len, void *buf, int32_t buf_cap);
/* 0 */
ISOLA_KV_IMPORT("set") int32_t isola_kv_set(int32_t store, const char *key, int32_t key_len, const void *val, int32_t val_len);
/* 0, also when the key was absent */
ISOLA_KV_IMPORT("delete") int32_t isola_kv_delete(int32_t store, const char *key, int32_t key_len);
/* 1 or 0 */
ISOLA_KV_IMPORT("exists") int32_t isola_kv_exists(int32_t store, const char *key, int32_t key_len);
/* 0, and the new value in *out. Counters are kept as decimal text; an absent key counts from 0. */
ISOLA_KV_IMPORT("increment") int32_t isola_kv_increment(int32_t store, const char *key, int32_t key_len, int64_t delta, int64_t *out);
/* 1 when the value was old (old_len = -1: the key was absent) and is now new; 0 when it was something else. */
ISOLA_KV_IMPORT("compare_and_swap") int32_t isola_kv_compare_and_swap(int32_t store, const char *key, int32_t key_len,
                                                                       const void *old_val, int32_t old_len,
                                                                       const void *new_val, int32_t new_len);
/* One page of the keys with the prefix (cursor_len 0: the first page): the page's length in bytes, copied to
 * buf only if it fits. Walk it with isola_kv_page_*. */
ISOLA_KV_IMPORT("list_keys") int32_t isola_kv_list_keys(int32_t store, const char *prefix, int32_t prefix_len,
                                                         const char *cursor, int32_t cursor_len, void *buf, int32_t buf_cap);
/* The length of the last failed call's message (copied up to buf_cap bytes). */
ISOLA_KV_IMPORT("last_error") int32_t isola_kv_last_error(char *buf, int32_t buf_cap);

/* Walking a list_keys page: u32 count, count x (u32 len, key bytes), u32 cursor_len, cursor bytes (LE).
 *
 *   isola_kv_page pg;
 *   const char *k; int32_t klen;
 *   if (isola_kv_page_begin(&pg, buf, n) < 0) ...;                      // malformed
 *   while (isola_kv_page_next(&pg, &k, &klen) > 0) ...;                 // each key
 *   if (isola_kv_page_cursor(&pg, &k, &klen) < 0) ...;                  // klen 0: the listing is complete
 *
 * Keys and the cursor point into the page: copy the cursor before the buffer is reused for the next page. */
typedef struct isola_kv_page {
  const unsigned char *pos, *end;
  uint32_t left; /* keys not read yet */
} isola_kv_page;

static inline uint32_t isola_kv__u32le(const unsigned char *p) {
  return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline int isola_kv__take(isola_kv_page *pg, const char **p, int32_t *len) {
  if (pg->end - pg->pos < 4) return ISOLA_KV_INVALID;
  uint32_t n = isola_kv__u32le(pg->pos);
  pg->pos += 4;
  if ((uint32_t)(pg->end - pg->pos) < n) return ISOLA_KV_INVALID;
  *p = (const char *)pg->pos;
  *len = (int32_t)n;
  pg->pos += n;
  return 0;
}

/* Starts on a page of len bytes: the number of keys in it, or ISOLA_KV_INVALID. */
static inline int32_t isola_kv_page_begin(isola_kv_page *pg, const void *page, int32_t len) {
  const unsigned char *p = (const unsigned char *)page;
  pg->pos = p;
  pg->end = p + (len > 0 ? len : 0);
  pg->left = 0;
  if (len < 4) return ISOLA_KV_INVALID;
  pg->left = isola_kv__u32le(p);
  pg->pos += 4;
  return pg->left > 0x7fffffff ? ISOLA_KV_INVALID : (int32_t)pg->left;
}

/* The next key: 1 (*key, *key_len), 0 when every key was read, or ISOLA_KV_INVALID. */
static inline int isola_kv_page_next(isola_kv_page *pg, const char **key, int32_t *key_len) {
  if (pg->left == 0) return 0;
  pg->left--;
  return isola_kv__take(pg, key, key_len) < 0 ? ISOLA_KV_INVALID : 1;
}

/* The page's cursor (skipping the keys not read): 0 (*cursor_len 0: the listing is complete), or
 * ISOLA_KV_INVALID. */
static inline int isola_kv_page_cursor(isola_kv_page *pg, const char **cursor, int32_t *cursor_len) {
  const char *k;
  int32_t klen, r;
  while ((r = isola_kv_page_next(pg, &k, &klen)) > 0) {}
  if (r < 0) return r;
  return isola_kv__take(pg, cursor, cursor_len);
}

/* The last failed call's message copied into buf (cut to buf_cap bytes, not NUL-terminated): the number of
 * bytes copied, for printf("%.*s", (int)n, buf). */
static inline int32_t isola_kv_error_text(char *buf, int32_t buf_cap) {
  int32_t len = isola_kv_last_error(buf, buf_cap);
  if (len < 0) return 0;
  return len > buf_cap ? buf_cap : len;
}

#ifdef __cplusplus
}
#endif
#endif
