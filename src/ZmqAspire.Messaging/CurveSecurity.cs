using NetMQ;

namespace ZmqAspire.Messaging;

/// <summary>
/// CurveZMQ (ZeroMQ RFC 26, ZMTP's CURVE mechanism) for a REQ/REP pair: the server holds a
/// long-term key pair, the client knows only the server's public key. Every frame after the
/// handshake is encrypted and authenticated end to end, so intermediaries (an SSH bastion, the
/// container network) carry only ciphertext.
/// </summary>
/// <remarks>
/// NetMQ has no ZAP handler (ZeroMQ RFC 27): a CURVE server accepts any client key pair, so
/// CURVE here gives confidentiality and server authentication, not client authentication.
/// A client whose server key is wrong (or that does not speak CURVE) fails the handshake: the
/// server drops the connection and the client gets no reply, never an error.
/// </remarks>
public static class CurveSecurity
{
    /// <summary>The length of a Z85-encoded CURVE key (32 bytes), in characters.</summary>
    public const int Z85KeyLength = 40;

    /// <summary>Makes <paramref name="socket"/> a CURVE server. Call before <c>Bind</c>.</summary>
    /// <param name="socket">The socket, not yet bound.</param>
    /// <param name="serverCertificate">The server's long-term key pair (with its secret key).</param>
    /// <exception cref="ArgumentException"><paramref name="serverCertificate"/> has no secret key.</exception>
    public static void UseCurveServer(this NetMQSocket socket, NetMQCertificate serverCertificate)
    {
        ArgumentNullException.ThrowIfNull(socket);
        ArgumentNullException.ThrowIfNull(serverCertificate);
        if (!serverCertificate.HasSecretKey)
        {
            throw new ArgumentException("A CURVE server needs its secret key.", nameof(serverCertificate));
        }

        socket.Options.CurveServer = true;
        socket.Options.CurveCertificate = serverCertificate;
    }

    /// <summary>
    /// Makes <paramref name="socket"/> a CURVE client of the server whose long-term public key is
    /// <paramref name="serverPublicKey"/>. The client's own key pair is made fresh for the socket:
    /// with no ZAP at the server, a long-term client key would prove nothing. Call before <c>Connect</c>.
    /// </summary>
    /// <param name="socket">The socket, not yet connected.</param>
    /// <param name="serverPublicKey">The server's public key, Z85-encoded (40 characters).</param>
    /// <exception cref="FormatException"><paramref name="serverPublicKey"/> is not a Z85-encoded 32-byte key.</exception>
    public static void UseCurveClient(this NetMQSocket socket, string serverPublicKey)
    {
        ArgumentNullException.ThrowIfNull(socket);
        socket.Options.CurveServerKey = ParsePublicKey(serverPublicKey).PublicKey;
        socket.Options.CurveCertificate = new NetMQCertificate();
    }

    /// <summary>Tells whether <paramref name="z85"/> is a Z85-encoded 32-byte CURVE key.</summary>
    /// <param name="z85">The text to check.</param>
    /// <returns><see langword="true"/> if <see cref="ParsePublicKey"/> would accept it.</returns>
    public static bool IsPublicKey(string? z85)
    {
        try
        {
            _ = ParsePublicKey(z85!);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Parses a Z85-encoded CURVE public key.</summary>
    /// <param name="z85">40 characters of Z85 (ZeroMQ RFC 32).</param>
    /// <returns>A public-key-only certificate.</returns>
    /// <exception cref="FormatException"><paramref name="z85"/> is not a Z85-encoded 32-byte key.</exception>
    public static NetMQCertificate ParsePublicKey(string z85)
    {
        try
        {
            return z85?.Length == Z85KeyLength
                ? NetMQCertificate.FromPublicKey(z85)
                : throw new FormatException($"A CURVE public key is {Z85KeyLength} characters of Z85; got {z85?.Length ?? 0}.");
        }
        catch (ArgumentException ex)
        {
            throw new FormatException("The CURVE public key is not valid Z85.", ex);
        }
    }
}
