using System.Globalization;
using NetMQ;

namespace ZmqAspire.Messaging;

/// <summary>
/// CURVE key pairs on disk in ZeroMQ's certificate format (zcert, ZPL text), as czmq's
/// <c>zcert_save</c> and pyzmq's <c>zmq.auth.create_certificates</c> write them: a public file
/// (<c>curve.public-key</c> only) and a secret file (both keys, mode 0600), readable by pyzmq's
/// <c>zmq.auth.load_certificate</c>.
/// </summary>
public static class CurveCertificateFile
{
    /// <summary>The suffix of the secret file next to a public file (zcert's convention).</summary>
    public const string SecretSuffix = "_secret";

    /// <summary>
    /// Writes <paramref name="certificate"/> to <paramref name="publicPath"/> (public key, 0644)
    /// and <paramref name="publicPath"/> + <see cref="SecretSuffix"/> (both keys, created 0600).
    /// </summary>
    /// <param name="certificate">A key pair with its secret key.</param>
    /// <param name="publicPath">The public file's path.</param>
    /// <exception cref="ArgumentException"><paramref name="certificate"/> has no secret key.</exception>
    /// <exception cref="IOException">A file could not be written.</exception>
    public static void Save(NetMQCertificate certificate, string publicPath)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentException.ThrowIfNullOrEmpty(publicPath);
        if (!certificate.HasSecretKey)
        {
            throw new ArgumentException("Only a key pair with its secret key can be saved.", nameof(certificate));
        }

        var secretPath = publicPath + SecretSuffix;
        var secret = Header("Secret") + $"curve\n    public-key = \"{certificate.PublicKeyZ85}\"\n    secret-key = \"{certificate.SecretKeyZ85}\"\n";
        // Created with its final mode, so the secret is never readable by others, even briefly.
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        File.Delete(secretPath);
        using (var writer = new StreamWriter(secretPath, System.Text.Encoding.ASCII, options))
        {
            writer.Write(secret);
        }

        File.WriteAllText(publicPath, Header("Public") + $"curve\n    public-key = \"{certificate.PublicKeyZ85}\"\n", System.Text.Encoding.ASCII);
    }

    /// <summary>Reads a key pair from a secret file (both keys).</summary>
    /// <param name="secretPath">The secret file (zcert format).</param>
    /// <returns>The key pair.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file has no valid <c>secret-key</c>, or its <c>public-key</c> does not belong to it.</exception>
    public static NetMQCertificate LoadSecret(string secretPath)
    {
        var (publicKey, secretKey) = Read(secretPath);
        if (secretKey is null)
        {
            throw new InvalidDataException($"'{secretPath}' has no curve secret-key: it is not a secret certificate.");
        }

        NetMQCertificate certificate;
        try
        {
            certificate = NetMQCertificate.CreateFromSecretKey(secretKey);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"'{secretPath}': the secret-key is not {CurveSecurity.Z85KeyLength} characters of Z85.", ex);
        }

        return publicKey is null || publicKey == certificate.PublicKeyZ85
            ? certificate
            : throw new InvalidDataException($"'{secretPath}': the public-key does not belong to the secret-key.");
    }

    /// <summary>Reads the public key from a public or secret file.</summary>
    /// <param name="path">The file (zcert format).</param>
    /// <returns>The public key, Z85-encoded (40 characters).</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file has no valid <c>public-key</c>.</exception>
    public static string LoadPublicKey(string path)
    {
        var (publicKey, _) = Read(path);
        try
        {
            return CurveSecurity.ParsePublicKey(publicKey ?? string.Empty).PublicKeyZ85;
        }
        catch (FormatException ex)
        {
            throw new InvalidDataException($"'{path}' has no valid curve public-key.", ex);
        }
    }

    private static string Header(string kind) =>
        $"#   ****  Generated on {DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}Z by ZmqAspire  ****\n" +
        $"#   ZeroMQ CURVE **{kind}** Certificate\n" +
        (kind == "Secret" ? "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n" : string.Empty) +
        "\nmetadata\n";

    // ZPL as zcert writes it: "name = value" lines, indented under their section; only the two
    // keys under "curve" matter here.
    private static (string? PublicKey, string? SecretKey) Read(string path)
    {
        string? publicKey = null;
        string? secretKey = null;
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (line.StartsWith('#') || equals < 0)
            {
                continue;
            }

            var value = line[(equals + 1)..].Trim().Trim('"', '\'');
            switch (line[..equals].Trim())
            {
                case "public-key":
                    publicKey = value;
                    break;
                case "secret-key":
                    secretKey = value;
                    break;
            }
        }

        return (publicKey, secretKey);
    }
}
