/* The smallest CGI guest: one header, a blank line, a body. */
#include <stdio.h>

int main(void) {
  fputs("content-type: text/plain\n\nhello from isola\n", stdout);
  return 0;
}
