// Compute kernels for the fuel-metering benchmark and for `isola run --invoke`.
// Freestanding C (no libc): every buffer is static, every input is generated
// from a fixed seed, so each export returns the same value on every run.
//
//   isola run --invoke sha256_bench examples/kernels.wasm 1000
//   isola run --invoke matmul_bench examples/kernels.wasm 128
//   isola run --invoke nbody_bench  examples/kernels.wasm 100000

typedef unsigned int u32;
typedef unsigned long long u64;

#define EXPORT(name) __attribute__((export_name(name)))

// ---- SHA-256 --------------------------------------------------------------

static const u32 K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static u32 rotr(u32 x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(u32 h[8], const unsigned char *p) {
  u32 w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (u32)p[4 * i] << 24 | (u32)p[4 * i + 1] << 16 | (u32)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    u32 s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    u32 s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  u32 a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int i = 0; i < 64; i++) {
    u32 t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    u32 t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

// Hashes exactly SHA_LEN bytes (a multiple of 64), so padding is one fixed block.
#define SHA_LEN 4096
static unsigned char sha_input[SHA_LEN];

static void sha256(const unsigned char *msg, u32 out[8]) {
  u32 h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  for (int off = 0; off < SHA_LEN; off += 64) sha256_block(h, msg + off);
  unsigned char pad[64] = {0x80};
  u64 bits = (u64)SHA_LEN * 8;
  for (int i = 0; i < 8; i++) pad[63 - i] = (unsigned char)(bits >> (8 * i));
  sha256_block(h, pad);
  for (int i = 0; i < 8; i++) out[i] = h[i];
}

// Hashes a 4 KiB buffer `iterations` times, feeding each digest back into the
// buffer so no iteration can be skipped; returns the first digest word.
EXPORT("sha256_bench") u32 sha256_bench(int iterations) {
  u32 seed = 0x12345678;
  for (int i = 0; i < SHA_LEN; i++) {
    seed = seed * 1664525u + 1013904223u;
    sha_input[i] = (unsigned char)(seed >> 24);
  }
  u32 digest[8] = {0};
  for (int it = 0; it < iterations; it++) {
    sha256(sha_input, digest);
    for (int i = 0; i < 8; i++) ((u32 *)sha_input)[i] ^= digest[i];
  }
  return digest[0];
}

// ---- Matrix multiply --------------------------------------------------------

#define MAT_MAX 256
static double mat_a[MAT_MAX * MAT_MAX], mat_b[MAT_MAX * MAT_MAX], mat_c[MAT_MAX * MAT_MAX];

// C = A * B for n x n matrices (n clamped to 1..256); returns the sum of C.
EXPORT("matmul_bench") double matmul_bench(int n) {
  if (n < 1) n = 1;
  if (n > MAT_MAX) n = MAT_MAX;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      mat_a[i * n + j] = (double)((i * 7 + j * 3) % 17) / 17.0;
      mat_b[i * n + j] = (double)((i * 5 + j * 11) % 13) / 13.0;
    }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++) s += mat_a[i * n + k] * mat_b[k * n + j];
      mat_c[i * n + j] = s;
    }
  double sum = 0;
  for (int i = 0; i < n * n; i++) sum += mat_c[i];
  return sum;
}

// ---- N-body (the Benchmarks Game's five Jovian planets) ---------------------

#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define NBODIES 5

struct body { double x, y, z, vx, vy, vz, mass; };

static void nbody_init(struct body *b) {
  static const struct body initial[NBODIES] = {
    {0, 0, 0, 0, 0, 0, SOLAR_MASS},
    {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
     1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
     -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS},
    {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
     -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
     2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS},
    {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
     2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
     -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS},
    {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
     2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
     -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS},
  };
  for (int i = 0; i < NBODIES; i++) b[i] = initial[i];
  double px = 0, py = 0, pz = 0;
  for (int i = 0; i < NBODIES; i++) {
    px += b[i].vx * b[i].mass; py += b[i].vy * b[i].mass; pz += b[i].vz * b[i].mass;
  }
  b[0].vx = -px / SOLAR_MASS; b[0].vy = -py / SOLAR_MASS; b[0].vz = -pz / SOLAR_MASS;
}

static void nbody_advance(struct body *b, double dt) {
  for (int i = 0; i < NBODIES; i++)
    for (int j = i + 1; j < NBODIES; j++) {
      double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
      double d2 = dx * dx + dy * dy + dz * dz;
      double mag = dt / (d2 * __builtin_sqrt(d2));
      b[i].vx -= dx * b[j].mass * mag; b[i].vy -= dy * b[j].mass * mag; b[i].vz -= dz * b[j].mass * mag;
      b[j].vx += dx * b[i].mass * mag; b[j].vy += dy * b[i].mass * mag; b[j].vz += dz * b[i].mass * mag;
    }
  for (int i = 0; i < NBODIES; i++) {
    b[i].x += dt * b[i].vx; b[i].y += dt * b[i].vy; b[i].z += dt * b[i].vz;
  }
}

static double nbody_energy(const struct body *b) {
  double e = 0;
  for (int i = 0; i < NBODIES; i++) {
    e += 0.5 * b[i].mass * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
    for (int j = i + 1; j < NBODIES; j++) {
      double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
      e -= b[i].mass * b[j].mass / __builtin_sqrt(dx * dx + dy * dy + dz * dz);
    }
  }
  return e;
}

// Simulates `steps` steps of 0.01 and returns the system's energy afterwards
// (-0.169075164 at 0 steps, -0.169087605 after 1000, as the Benchmarks Game lists).
EXPORT("nbody_bench") double nbody_bench(int steps) {
  struct body b[NBODIES];
  nbody_init(b);
  for (int s = 0; s < steps; s++) nbody_advance(b, 0.01);
  return nbody_energy(b);
}
