using NetMQ;
using ZmqAspire.Messaging;

namespace ZmqAspire.AppHost;

/// <summary>
/// The ZeroMQ server's CurveZMQ key pair (ZeroMQ RFC 26) for one deployment: made on first use
/// and kept next to the SSH keys, in ZeroMQ's certificate format (zcert, as pyzmq's
/// <c>zmq.auth</c> reads it): <c>curve_server.key</c> (public) and
/// <c>curve_server.key_secret</c> (both keys, 0600, in the 0700 key folder). Delete both to
/// rotate; clients get the new public key on the next AppHost start.
/// </summary>
public sealed class CurveKeyMaterial
{
    /// <summary>The public file's name; the secret file adds <see cref="CurveCertificateFile.SecretSuffix"/>.</summary>
    public const string PublicFileName = "curve_server.key";

    private CurveKeyMaterial(string directory)
    {
        PublicKeyPath = Path.Combine(directory, PublicFileName);
        SecretKeyPath = PublicKeyPath + CurveCertificateFile.SecretSuffix;
        // Read from the secret file: the public key served to clients is the one that matches it.
        PublicKey = CurveCertificateFile.LoadSecret(SecretKeyPath).PublicKeyZ85;
    }

    /// <summary>Gets the path of the public certificate.</summary>
    public string PublicKeyPath { get; }

    /// <summary>Gets the path of the secret certificate (copied into the server container only).</summary>
    public string SecretKeyPath { get; }

    /// <summary>Gets the server's public key, Z85-encoded (40 characters): what clients are given.</summary>
    public string PublicKey { get; }

    /// <summary>Loads the server's key pair from <paramref name="directory"/>, making it if missing.</summary>
    /// <param name="directory">The key folder (created 0700 if missing), for example the bastion's <see cref="Aspire.Hosting.ApplicationModel.SshBastionResource.KeyDirectory"/>.</param>
    /// <returns>The key material.</returns>
    /// <exception cref="InvalidDataException">A key file exists but is not a valid CURVE certificate.</exception>
    public static CurveKeyMaterial EnsureCreated(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var publicPath = Path.Combine(directory, PublicFileName);
        if (!File.Exists(publicPath + CurveCertificateFile.SecretSuffix))
        {
            CurveCertificateFile.Save(new NetMQCertificate(), publicPath);
        }

        return new CurveKeyMaterial(directory);
    }
}
