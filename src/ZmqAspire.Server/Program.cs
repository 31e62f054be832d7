using ZmqAspire.Server;

var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
builder.Services.Configure<ReplyServerOptions>(builder.Configuration.GetSection(ReplyServerOptions.Section));
builder.Services.AddHostedService<ReplyServer>();
builder.Build().Run();
