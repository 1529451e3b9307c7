/* A page hit counter: a CGI guest (wasm32-wasi) that increments the counter named by the request's path
 * (PATH_INFO, or "/") in the key-value store "default" and answers "N hits on PATH". See README.md. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isola_keyvalue.h"

int main(void) {
  const char *path = getenv("PATH_INFO");
  if (!path || !*path) path = "/";
  int64_t hits = 0;
  int32_t r = isola_kv_open("default", 7);
  if (r >= 0) r = isola_kv_increment(r, path, (int32_t)strlen(path), 1, &hits);
  if (r < 0) {
    char msg[256];
    int32_t len = isola_kv_error_text(msg, sizeof msg);
    printf("Status: 500\nContent-Type: text/plain\n\nerror %" PRId32 " %.*s\n", r, (int)len, msg);
    return 0;
  }
  printf("Content-Type: text/plain\n\n%" PRId64 " hits on %s\n", hits, path);
  return 0;
}
