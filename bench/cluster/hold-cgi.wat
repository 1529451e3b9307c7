;; bench:cluster's guest (bench/cluster/forward.ts): a CGI hello that can hold its slot. A request with no body
;; answers "hello\n" at once; one whose body is a decimal number N first sleeps N ms in poll_oneoff, then answers
;; "held\n". With max-concurrency 1, one such request keeps a node's only slot for the function busy, so the
;; node forwards the next requests to another node.
(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; the two responses: header (26 bytes) and body
  (data (i32.const 256) "content-type: text/plain\n\nhello\n")
  (data (i32.const 320) "content-type: text/plain\n\nheld\n")
  (func $write (param $at i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  ;; The body's leading decimal digits as a number (0 for no body): one read of up to 64 bytes at 512.
  (func $bodyNumber (result i64) (local $n i32) (local $i i32) (local $digit i32) (local $v i64)
    (i32.store (i32.const 0) (i32.const 512))
    (i32.store (i32.const 4) (i32.const 64))
    (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)) (then (return (i64.const 0))))
    (local.set $n (i32.load (i32.const 8)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $digit (i32.sub (i32.load8_u (i32.add (i32.const 512) (local.get $i))) (i32.const 48)))
        (br_if $done (i32.gt_u (local.get $digit) (i32.const 9)))
        (local.set $v (i64.add (i64.mul (local.get $v) (i64.const 10)) (i64.extend_i32_u (local.get $digit))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $v))
  (func $sleep (param $ns i64)
    ;; one subscription at 64: userdata 0, tag 0 (clock), clock id 1 (monotonic), timeout, precision 0, flags 0 (relative)
    (i64.store (i32.const 64) (i64.const 0))
    (i32.store8 (i32.const 72) (i32.const 0))
    (i32.store (i32.const 80) (i32.const 1))
    (i64.store (i32.const 88) (local.get $ns))
    (i64.store (i32.const 96) (i64.const 0))
    (i32.store16 (i32.const 104) (i32.const 0))
    (drop (call $poll_oneoff (i32.const 64) (i32.const 128) (i32.const 1) (i32.const 24))))
  (func $_start (export "_start") (local $ms i64)
    (local.set $ms (call $bodyNumber))
    (if (i64.eqz (local.get $ms))
      (then (call $write (i32.const 256) (i32.const 32)))
      (else
        (call $sleep (i64.mul (local.get $ms) (i64.const 1000000)))
        (call $write (i32.const 320) (i32.const 31))))))
