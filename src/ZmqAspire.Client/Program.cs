using Microsoft.Extensions.Options;
using ZmqAspire.Client;
using ZmqAspire.Messaging;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

builder.Services.AddOptions<TunnelSettings>().BindConfiguration(TunnelSettings.Section).ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<TunnelSettings>, TunnelSettings.Validator>();
builder.Services.AddOptions<RequestClientOptions>().BindConfiguration(RequestClientOptions.Section)
    .Validate(o => o.CurveServerKey is null || CurveSecurity.IsPublicKey(o.CurveServerKey), "Client:CurveServerKey is not a CURVE public key (40 characters of Z85).")
    .ValidateOnStart();
builder.Services.AddSingleton<TunnelState>();
builder.Services.AddSingleton<ClientCommands>();
builder.Services.AddSingleton<RequestLoop>();
builder.Services.AddHealthChecks().AddCheck<TunnelHealthCheck>("ssh-tunnel");
builder.Services.AddHostedService<RequestClient>();

var app = builder.Build();
app.MapHealthChecks("/health", new() { ResponseWriter = HealthReportWriter.WriteAsync });
app.MapHealthChecks("/alive", new() { Predicate = check => check.Tags.Contains(ServiceDefaultsExtensions.LiveTag) });
app.MapClientCommands(app.Services.GetRequiredService<IOptions<RequestClientOptions>>().Value.CommandToken);
app.Run();
