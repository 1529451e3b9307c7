// A C program with a bug: lookup_record has no bounds check, so an id far past
// the table reads outside linear memory and the guest traps. It is reached
// through two other named functions so a backtrace shows three named frames:
//
//   isola run --invoke run examples/trap.wasm 3                        # prints 4
//   isola run --backtrace --invoke run examples/trap.wasm 100000000    # traps
//
// Built without stripping, so the name section carries these names.

#define EXPORT(name) __attribute__((export_name(name)))

static int records[16] = {1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987};

__attribute__((noinline)) static int lookup_record(unsigned id) {
  return records[id];  // the bug: no `id < 16` check
}

__attribute__((noinline)) static int handle_request(unsigned id) {
  return lookup_record(id) + 1;
}

EXPORT("run") int run(unsigned id) {
  return handle_request(id);
}
