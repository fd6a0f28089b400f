// Prettier (`npm run format`, checked by `npm run format:check`): the style the code was
// already written in (single quotes, semicolons, trailing commas). The code keeps long
// lines whole; 200 columns is where reformatting changes it least (measured over ts/,
// bench/, test/ and web/ at 120 to 250).
export default {
  singleQuote: true,
  printWidth: 200,
};
