;; The buffer ABI: the host copies its input to get_buffer_ptr(), calls
;; process_data(len), and reads back the returned number of bytes from the
;; same place. This guest reverses the bytes in place.
;;   isola run --buffer process_data examples/reverse.wasm < in > out
(module
  ;; Page 0 is left free; the buffer is pages 1..16 (1 MiB).
  (memory (export "memory") 17 17)
  (global $buf i32 (i32.const 0x10000))
  (global $size i32 (i32.const 0x100000))

  (func $get_buffer_ptr (export "get_buffer_ptr") (result i32) (global.get $buf))
  (func $get_buffer_size (export "get_buffer_size") (result i32) (global.get $size))

  (func $process_data (export "process_data") (param $len i32) (result i32)
    (local $lo i32) (local $hi i32) (local $t i32)
    ;; The host checks the length, but a guest trusts no caller.
    (if (i32.gt_u (local.get $len) (global.get $size)) (then unreachable))
    (local.set $lo (global.get $buf))
    (local.set $hi (i32.sub (i32.add (global.get $buf) (local.get $len)) (i32.const 1)))
    (block $done
      (loop $swap
        (br_if $done (i32.ge_s (local.get $lo) (local.get $hi)))
        (local.set $t (i32.load8_u (local.get $lo)))
        (i32.store8 (local.get $lo) (i32.load8_u (local.get $hi)))
        (i32.store8 (local.get $hi) (local.get $t))
        (local.set $lo (i32.add (local.get $lo) (i32.const 1)))
        (local.set $hi (i32.sub (local.get $hi) (i32.const 1)))
        (br $swap)))
    (local.get $len)))
