;; The classic: is_thirteen(u32) -> bool, as a Wasm i32 -> i32.
;;   isola run --invoke is_thirteen examples/is-thirteen.wasm 13   # prints 1
(module
  (func $is_thirteen (export "is_thirteen") (param $n i32) (result i32)
    (i32.eq (local.get $n) (i32.const 13))))
