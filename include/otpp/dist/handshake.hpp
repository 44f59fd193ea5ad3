// The distribution handshake (version 6), as a state machine without I/O.
// Distributed under the Boost Software License, Version 1.0.
#pragma once

#include <otpp/dist/atom.hpp>
#include <otpp/dist/protocol.hpp>

#include <boost/uuid/detail/md5.hpp>
#include <fmt/format.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace otpp::dist {

/// What a node says of itself in a handshake.
struct node_identity {
  atom name;                             ///< `alive@host`
  std::uint64_t flags = flag::otpp_node; ///< capabilities
  std::uint32_t creation = 0;            ///< this incarnation (from epmd)
};

/// What a handshake learnt of the peer.
struct peer_identity {
  atom name;
  std::uint64_t flags = 0;
  std::uint32_t creation = 0;
};

/// A handshake that failed: a malformed message, a peer refusing us, a
/// peer that is too old, or cookies that differ.
class handshake_error : public protocol_error {
public:
  using protocol_error::protocol_error;
};

/// `MD5(cookie ++ integer_to_list(challenge))`: the digest each side shows
/// the other to prove it knows the cookie.
inline std::array<std::uint8_t, 16> challenge_digest(std::string_view cookie,
                                                     std::uint32_t challenge) {
  boost::uuids::detail::md5 md5;
  const std::string text = fmt::format("{}{}", cookie, challenge);
  md5.process_bytes(text.data(), text.size());
  boost::uuids::detail::md5::digest_type words;
  md5.get_digest(words);
  // Boost 1.71+ keeps each word's bytes in big-endian order in its value.
  std::array<std::uint8_t, 16> out{};
  for (std::size_t i = 0; i < 16; ++i)
    out[i] = static_cast<std::uint8_t>(words[i / 4] >> (24 - 8 * (i % 4)));
  return out;
}

/// One side of a handshake (erts: erl_dist_protocol, "Distribution
/// Handshake"), version 6 only (OTP 23 and later), with no I/O of its own:
/// give it what arrives with `feed`, send what `take_output` returns, until
/// `done()`. Messages are framed with a 2-byte length, as on the wire.
///
/// The initiator (the node that connects) sends its name, reads the
/// acceptor's status and challenge, answers with the digest of that
/// challenge and a challenge of its own, and checks the acceptor's digest.
/// The acceptor does the mirror image. Both check that the peer announces
/// what otpp needs (`flag::acceptable`).
///
/// @par Errors
/// `feed` throws `handshake_error` (the connection must then be closed):
/// a message that is malformed or out of place, a status other than `ok`
/// (`nok`, `not_allowed`, `alive`: the peer refuses or has a connection to
/// us already), a peer without the flags otpp needs, a digest that does not
/// match (the cookies differ), or handshake version 5.
class handshake {
public:
  enum class role : std::uint8_t { initiator, acceptor };

  /// `challenge` must be random (from a good source: it protects the cookie).
  handshake(role r, node_identity self, std::string cookie, std::uint32_t challenge)
      : role_(r), self_(std::move(self)), cookie_(std::move(cookie)), challenge_(challenge) {
    if (role_ == role::initiator)
      send_name();
  }

  /// Bytes to send now (and forget).
  std::string take_output() { return std::exchange(out_, std::string()); }

  /// Bytes received from the peer, in any chunks. Bytes after the last
  /// handshake message belong to the connection: see `leftover`.
  void feed(std::string_view bytes) {
    if (state_ == state::done) {
      leftover_.append(bytes);
      return;
    }
    in_.append(bytes);
    while (state_ != state::done && in_.size() >= 2) {
      const std::size_t n = get(in_, 0, 2);
      if (n == 0)
        fail("an empty handshake message");
      if (in_.size() < 2 + n)
        return;
      const std::string msg = in_.substr(2, n);
      in_.erase(0, 2 + n);
      step(msg);
    }
    if (state_ == state::done) {
      leftover_ += in_;
      in_.clear();
    }
  }

  /// True once both sides proved the cookie.
  bool done() const noexcept { return state_ == state::done; }
  /// The peer (valid once `done()`).
  const peer_identity& peer() const noexcept { return peer_; }
  /// Bytes that came after the handshake (the start of the first packet).
  std::string take_leftover() { return std::exchange(leftover_, std::string()); }

private:
  enum class state : std::uint8_t {
    wait_name,      // acceptor
    wait_status,    // initiator
    wait_challenge, // initiator
    wait_reply,     // acceptor
    wait_ack,       // initiator
    done
  };

  [[noreturn]] static void fail(const std::string& what) {
    throw handshake_error("otpp::dist: handshake: " + what);
  }

  static void put16(std::string& s, std::uint16_t v) {
    s += static_cast<char>(v >> 8);
    s += static_cast<char>(v & 0xFF);
  }
  static void put32(std::string& s, std::uint32_t v) {
    put16(s, static_cast<std::uint16_t>(v >> 16));
    put16(s, static_cast<std::uint16_t>(v & 0xFFFF));
  }
  static void put64(std::string& s, std::uint64_t v) {
    put32(s, static_cast<std::uint32_t>(v >> 32));
    put32(s, static_cast<std::uint32_t>(v & 0xFFFFFFFF));
  }
  static std::uint64_t get(std::string_view m, std::size_t at, std::size_t bytes) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i)
      v = (v << 8) | static_cast<std::uint8_t>(m[at + i]);
    return v;
  }

  void emit(const std::string& msg) {
    put16(out_, static_cast<std::uint16_t>(msg.size()));
    out_ += msg;
  }

  // 'N', Flags(8), Creation(4), NLen(2), Name.
  void send_name() {
    std::string m = "N";
    put64(m, self_.flags);
    put32(m, self_.creation);
    put16(m, static_cast<std::uint16_t>(self_.name.name().size()));
    m += self_.name.name();
    emit(m);
    state_ = state::wait_status;
  }

  // The peer's node name: a valid atom of the form alive@host.
  static atom node_name(std::string_view s) {
    auto a = atom::try_make(s);
    const std::size_t at = s.find('@');
    if (!a || at == 0 || at == std::string_view::npos || at + 1 == s.size())
      fail("the peer's node name is not alive@host");
    return *a;
  }

  void check_flags(std::uint64_t flags) const {
    if (!flag::acceptable(flags))
      fail(fmt::format("the peer lacks flags otpp needs (OTP 25's mandatory set and UNLINK_ID): "
                       "it announced {:#x}",
                       flags));
  }

  void step(std::string_view m) {
    switch (state_) {
    case state::wait_name: {
      if (m[0] == 'n')
        fail("the peer uses handshake version 5 (OTP 22 or older); otpp needs version 6");
      if (m[0] != 'N' || m.size() < 15)
        fail("expected the peer's name ('N')");
      peer_.flags = get(m, 1, 8);
      peer_.creation = static_cast<std::uint32_t>(get(m, 9, 4));
      const std::size_t n = get(m, 13, 2);
      if (m.size() != 15 + n)
        fail("the name message's length does not match its name");
      peer_.name = node_name(m.substr(15, n));
      check_flags(peer_.flags);
      emit("sok");
      // 'N', Flags(8), Challenge(4), Creation(4), NLen(2), Name.
      std::string c = "N";
      put64(c, self_.flags);
      put32(c, challenge_);
      put32(c, self_.creation);
      put16(c, static_cast<std::uint16_t>(self_.name.name().size()));
      c += self_.name.name();
      emit(c);
      state_ = state::wait_reply;
      return;
    }
    case state::wait_status: {
      if (m[0] != 's')
        fail("expected the peer's status ('s')");
      const std::string_view status = m.substr(1);
      if (status == "ok" || status == "ok_simultaneous") {
        state_ = state::wait_challenge;
        return;
      }
      if (status == "alive")
        fail("status 'alive': the peer already has a connection from a node of our name");
      fail(fmt::format("the peer refused the connection (status '{}')", status));
    }
    case state::wait_challenge: {
      if (m[0] == 'n')
        fail("the peer uses handshake version 5 (OTP 22 or older); otpp needs version 6");
      if (m[0] != 'N' || m.size() < 19)
        fail("expected the peer's challenge ('N')");
      peer_.flags = get(m, 1, 8);
      const auto their_challenge = static_cast<std::uint32_t>(get(m, 9, 4));
      peer_.creation = static_cast<std::uint32_t>(get(m, 13, 4));
      const std::size_t n = get(m, 17, 2);
      if (m.size() != 19 + n)
        fail("the challenge message's length does not match its name");
      peer_.name = node_name(m.substr(19, n));
      check_flags(peer_.flags);
      // 'r', Challenge(4), Digest(16).
      std::string r = "r";
      put32(r, challenge_);
      append_digest(r, their_challenge);
      emit(r);
      state_ = state::wait_ack;
      return;
    }
    case state::wait_reply: {
      if (m[0] != 'r' || m.size() != 21)
        fail("expected the peer's challenge reply ('r')");
      const auto their_challenge = static_cast<std::uint32_t>(get(m, 1, 4));
      check_digest(m.substr(5, 16));
      // 'a', Digest(16).
      std::string a = "a";
      append_digest(a, their_challenge);
      emit(a);
      state_ = state::done;
      return;
    }
    case state::wait_ack: {
      if (m[0] != 'a' || m.size() != 17)
        fail("expected the peer's challenge ack ('a')");
      check_digest(m.substr(1, 16));
      state_ = state::done;
      return;
    }
    case state::done:
      return;
    }
  }

  // The digest that proves our cookie for the peer's challenge.
  void append_digest(std::string& m, std::uint32_t their_challenge) const {
    const auto d = challenge_digest(cookie_, their_challenge);
    m.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  // The peer's digest for our challenge must prove the same cookie.
  void check_digest(std::string_view got) const {
    const auto want = challenge_digest(cookie_, challenge_);
    unsigned diff = 0; // constant time
    for (std::size_t i = 0; i < 16; ++i)
      diff |= static_cast<unsigned>(static_cast<std::uint8_t>(got[i]) ^ want[i]);
    if (diff != 0)
      fail("the peer's digest does not match: its cookie differs from ours");
  }

  role role_;
  node_identity self_;
  std::string cookie_;
  std::uint32_t challenge_;
  state state_ = role_ == role::initiator ? state::wait_status : state::wait_name;
  peer_identity peer_;
  std::string in_;
  std::string out_;
  std::string leftover_;
};

} // namespace otpp::dist
